import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { chromium, type Browser, type Dialog, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect, publish } from '../support/mqtt.js';

/**
 * The operator page in a real browser (Debian's chromium driven by playwright-core; nothing is downloaded),
 * against a real gateway with real InfluxDB and MQTT. Screenshots of each view go to test-artifacts/operator-page/.
 */
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const ARTIFACTS = join('test-artifacts', 'operator-page');
const TOKEN = 'browser-test-token-0123456789';
const RULES = `# Alert rules (test). This comment block is kept when the form saves.

rules:
  - name: barn-co2
    match: { device: "barn-*", sensor: co2 }
    above: 2000
    hysteresis: 100
    for: 30s
    severity: warning
`;

describe('operator page in chromium', () => {
  let influx: InfluxServer;
  let tg: TestGateway;
  let browser: Browser;
  let page: Page;
  let devices: MqttClient;
  let watcher: MqttClient;
  const alertMessages: { topic: string; payload: Record<string, unknown> }[] = [];
  const consoleErrors: string[] = [];
  const rulesFile = () => readFileSync(tg.config.alerts.rulesFile, 'utf8');
  const row = (device: string, sensor: string) => page.locator(`tr[data-device="${device}"][data-sensor="${sensor}"]`);
  /** Reloads the rules into the page, saying yes when it asks about unsaved edits. */
  const reloadRules = async () => {
    const yes = (d: Dialog) => void d.accept();
    page.on('dialog', yes);
    await page.click('#rules-reload');
    await expect.poll(() => page.locator('#rules-dirty').isHidden(), { timeout: 20_000 }).toBe(true);
    page.off('dialog', yes);
  };
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install chromium), or set CHROMIUM_BIN`);
    mkdirSync(ARTIFACTS, { recursive: true });
    influx = await startInfluxd();
    tg = await startTestGateway({ influxUrl: influx.url, overrides: { http: { host: '127.0.0.1', port: 0, token: TOKEN } }, rules: RULES });
    devices = await connect(tg.mqttUrl, { clientId: 'sim' });
    watcher = await connect(tg.mqttUrl, { clientId: 'watcher' });
    watcher.on('message', (topic, payload) => alertMessages.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> }));
    await watcher.subscribeAsync('alerts/#', { qos: 1 });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-quic',
        '--no-first-run',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
    page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  });

  afterAll(async () => {
    await browser?.close();
    await devices?.endAsync();
    await watcher?.endAsync();
    await tg?.dispose();
    await influx?.dispose();
  });

  it('needs the token: the API refuses without it, a wrong login is refused, the right one opens the page', async () => {
    await page.goto(`${tg.httpUrl}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    const refused = await page.evaluate(async () => [
      (await fetch('/api/thresholds')).status,
      (await fetch('/api/thresholds', { method: 'PUT', body: 'rules: []' })).status,
    ]);
    expect(refused).toEqual([401, 401]);

    await page.fill('input[name="token"]', 'not-the-right-token-at-all');
    await page.click('button[type="submit"]');
    await page.locator('.login-error').waitFor();
    await shot('login');

    await page.fill('input[name="token"]', TOKEN);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${tg.httpUrl}/`);
    await page.locator('#conn.conn-on').waitFor();
    expect(await page.evaluate(async () => (await fetch('/api/thresholds')).status)).toBe(200);
  });

  it('shows every sensor with its last value, rate and windows, live, and filters by device glob', async () => {
    // 20 s of history at 1 Hz per sensor (1 s windows in the test config), then the page must show the last values.
    const base = Date.now() - 20_000;
    const wave = (i: number, k: number) => Math.round((20 + k + 3 * Math.sin(i / 3)) * 100) / 100;
    for (let i = 0; i < 20; i++) {
      const ts = base + i * 1000;
      await publish(devices, 'devices/gh-1/telemetry', JSON.stringify({ ts, readings: { temperature: wave(i, 0), humidity: 55 + (i % 5) } }));
      await publish(devices, 'devices/gh-2/telemetry', JSON.stringify({ ts, readings: { temperature: wave(i, 2) } }));
      await publish(devices, 'devices/barn-1/sensors/co2', JSON.stringify({ ts, value: 800 + i * 10 }));
    }
    await row('gh-1', 'temperature')
      .locator('td.value')
      .filter({ hasText: String(wave(19, 0)) })
      .waitFor();
    await row('barn-1', 'co2').locator('td.value').filter({ hasText: '990' }).waitFor();
    expect(await row('gh-2', 'temperature').locator('td.value').textContent()).toBe(String(wave(19, 2)));
    // All 20 readings of each sensor arrived within the last minute (arrival time, whatever their timestamps).
    await row('gh-1', 'temperature').locator('td.rate').filter({ hasText: /^20$/ }).waitFor();
    expect(await page.locator('#sensor-rows tr.row[data-device]').count()).toBe(4);
    // Sparklines appear once windows are emitted (no reload).
    await row('gh-1', 'temperature').locator('svg.spark polyline').waitFor();
    expect(await row('gh-1', 'humidity').locator('td.alert').textContent()).toBe('ok');

    // Search: a case-insensitive substring of the device or the sensor, filtered on the gateway, kept in the URL.
    await page.fill('#sensor-search', 'GH-');
    await expect.poll(() => row('barn-1', 'co2').count(), { timeout: 20_000 }).toBe(0);
    expect(await row('gh-1', 'temperature').isVisible()).toBe(true);
    expect(new URL(page.url()).searchParams.get('q')).toBe('GH-');
    await page.fill('#sensor-search', 'co2');
    await expect.poll(() => page.locator('tr.row[data-device]').count(), { timeout: 20_000 }).toBe(1);
    await page.reload();
    expect(await page.locator('#sensor-search').inputValue()).toBe('co2');
    await row('barn-1', 'co2').waitFor();
    // Sorted by a column, on the gateway: by last value, highest first.
    await page.fill('#sensor-search', '');
    await page.click('th[data-sort="value"] button');
    await page.click('th[data-sort="value"] button');
    await expect.poll(() => page.locator('tr.row[data-device]').first().getAttribute('data-sensor'), { timeout: 20_000 }).toBe('co2');
    expect(await page.locator('th[data-sort="value"]').getAttribute('aria-sort')).toBe('descending');
    expect(new URL(page.url()).searchParams.get('dir')).toBe('desc');
    await page.click('th[data-sort="device"] button');
    await shot('sensors');
  });

  it('adds a rule through the form (with a preview of what it matches); the next reading fires it, in the page and on MQTT', async () => {
    await page.click('#tab-thresholds');
    const first = page.locator('.rule[data-index="0"]');
    await first.locator('input[name="name"]').waitFor();
    expect(await first.locator('input[name="name"]').inputValue()).toBe('barn-co2');
    expect(await first.locator('input[name="for"]').inputValue()).toBe('30s');
    await first.locator('.preview').filter({ hasText: 'barn-1/co2' }).waitFor();

    await page.click('#rule-add');
    const added = page.locator('.rule[data-index="1"]');
    await added.locator('input[name="name"]').fill('gh-hot');
    await added.locator('input[name="device"]').fill('gh-*');
    await added.locator('input[name="sensor"]').fill('temperature');
    await added.locator('input[name="above"]').fill('30');
    await added.locator('input[name="hysteresis"]').fill('0.5');
    await added.locator('select[name="severity"]').selectOption('critical');
    await added.locator('.preview').filter({ hasText: '2 sensors' }).waitFor();
    expect(await added.locator('.preview').textContent()).toContain('gh-1/temperature, gh-2/temperature');
    // Before saving: how often would it have fired on the recent data? (gh-1 stays near 20: never.)
    await page.click('#rules-dry-run');
    await page.locator('#rules-banner.ok').filter({ hasText: 'Dry run' }).waitFor();
    expect(await page.locator('#rules-banner').textContent()).toContain('would not have fired');
    expect(tg.gw.alerts.rules().map((r) => r.name)).toEqual(['barn-co2']);
    await page.click('#rules-save');
    await page.locator('#rules-banner.ok').waitFor();
    expect(await page.locator('#rules-banner').textContent()).toContain('2 rules running');

    await page.locator('.rule[data-index="1"] .preview').filter({ hasText: '2 sensors' }).waitFor();
    const saved = rulesFile();
    expect(saved.startsWith('# Alert rules (test).')).toBe(true);
    expect(tg.gw.alerts.rules().map((r) => r.name)).toEqual(['barn-co2', 'gh-hot']);
    await shot('thresholds-form');

    await publish(devices, 'devices/gh-1/telemetry', JSON.stringify({ ts: Date.now(), readings: { temperature: 35.5 } }));
    const badge = row('gh-1', 'temperature').locator('td.alert .badge.critical');
    await page.click('#tab-sensors');
    await badge.waitFor();
    expect(await badge.textContent()).toBe('gh-hot');
    expect(await row('gh-1', 'temperature').getAttribute('class')).toContain('sev-critical');
    expect(await row('gh-2', 'temperature').locator('td.alert').textContent()).toBe('ok');
    const msg = await waitFor('the alert on MQTT', () => alertMessages.find((m) => m.topic === 'alerts/gh-1/temperature/gh-hot'));
    expect(msg.payload).toMatchObject({ state: 'firing', severity: 'critical', value: 35.5, threshold: 30 });
    await page.locator('#sensor-summary .firing').waitFor();
    await shot('sensors-alert');
  });

  it('shows an invalid value next to its field and changes nothing', async () => {
    const before = rulesFile();
    await page.click('#tab-thresholds');
    const rule = page.locator('.rule[data-index="1"]');
    await rule.locator('input[name="above"]').fill('thirty');
    await page.click('#rules-save');
    const err = rule.locator('input[name="above"] + .field-error');
    await err.waitFor();
    expect(await err.textContent()).toMatch(/number/i);
    expect(await rule.locator('input[name="above"]').getAttribute('class')).toContain('invalid');
    expect(await rule.locator('input[name="above"]').getAttribute('aria-invalid')).toBe('true');
    const described = (await rule.locator('input[name="above"]').getAttribute('aria-describedby'))!;
    expect(await page.locator(`#${described}`).textContent()).toMatch(/number/i);
    expect(await page.locator('#rules-banner.error').textContent()).toContain('The rules file was not changed');
    await shot('thresholds-form-error');
    expect(rulesFile()).toBe(before);
    expect(tg.gw.alerts.rules().find((r) => r.name === 'gh-hot')).toMatchObject({ above: 30 });
  });

  it('edits the raw YAML: an error is shown at its line and changes nothing', async () => {
    const before = rulesFile();
    await reloadRules();
    await page.click('.subtab[data-mode="yaml"]');
    const text = await page.locator('#yaml-text').inputValue();
    expect(text).toBe(before);
    const broken = before.replace('above: 2000', 'above: lots');
    const line = broken.split('\n').findIndex((l) => l.includes('above: lots')) + 1;
    await page.locator('#yaml-text').fill(broken);
    await page.click('#rules-save');
    await page.locator('#yaml-errors li').first().waitFor();
    expect(await page.locator('#yaml-errors li').first().textContent()).toContain(`line ${line}`);
    expect(await page.locator(`#yaml-gutter div:nth-child(${line})`).getAttribute('class')).toBe('err');
    await shot('thresholds-yaml-error');
    expect(rulesFile()).toBe(before);
  });

  it('refuses a save that another edit overtook (ETag / If-Match), with a clear message', async () => {
    await reloadRules();
    // Someone else changes the file after the page loaded it.
    const other = RULES.replace('above: 2000', 'above: 2500');
    const put = await fetch(`${tg.httpUrl}/api/thresholds`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/yaml' },
      body: other,
    });
    expect(put.status).toBe(200);

    await page.locator('#yaml-text').fill(RULES.replace('above: 2000', 'above: 1800'));
    await page.click('#rules-save');
    const banner = page.locator('#rules-banner.error');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('someone else changed the rules file');
    expect(rulesFile()).toBe(other);

    // The conflict dialog opens by itself; taking their version shows it.
    await page.locator('dialog.dialog[open] button[data-choice="theirs"]').click();
    await expect.poll(() => page.locator('#yaml-text').inputValue(), { timeout: 20_000 }).toBe(other);
    await page.click('.subtab[data-mode="form"]');
    expect(await page.locator('.rule[data-index="0"] input[name="above"]').inputValue()).toBe('2500');
  });

  it("shows the gateway's own health, live: InfluxDB, outbox, MQTT clients, rejected messages by reason, rules file", async () => {
    await publish(devices, 'devices/gh-1/telemetry', '{not json');
    await page.click('#tab-health');
    const card = (title: string) => page.locator(`#health-cards section[aria-label="${title}"]`);
    await card('InfluxDB').filter({ hasText: 'up' }).waitFor();
    expect(await card('MQTT').locator('dd').first().textContent()).toBe('2'); // sim + watcher
    await card('Rejected messages (since start)').locator('dt').first().waitFor();
    await expect.poll(() => card('Rejected messages (since start)').textContent(), { timeout: 20_000 }).toMatch(/malformed|json|decode/i);
    expect(await card('Rules file').textContent()).toContain('rules running');
    expect(await card('Outbox (store and forward)').textContent()).toContain('dead letters');
    await shot('health');
    await page.click('#tab-sensors');
  });

  it('asks before edits are lost: leaving the page, Reload and Delete', async () => {
    await page.click('#tab-thresholds');
    await reloadRules();
    const unload = `(() => { const e = new Event('beforeunload', { cancelable: true }); window.dispatchEvent(e); return e.defaultPrevented; })()`;
    expect(await page.evaluate(unload)).toBe(false); // nothing typed: leave freely
    await page.click('.subtab[data-mode="form"]');
    await page.click('#rule-add');
    await page.locator('.rule[data-index="0"] input[name="above"]').fill('2100');
    expect(await page.evaluate(unload)).toBe(true); // the browser asks before a reload, a close or a link

    const dialogs: string[] = [];
    page.once('dialog', (d) => (dialogs.push(d.message()), void d.dismiss()));
    await page.click('#rules-reload');
    await expect.poll(() => dialogs.length).toBe(1);
    expect(dialogs[0]).toContain('unsaved edits are dropped');
    expect(await page.locator('.rule[data-index="0"] input[name="above"]').inputValue()).toBe('2100');

    page.once('dialog', (d) => (dialogs.push(d.message()), void d.dismiss()));
    await page.locator('.rule[data-index="0"] .btn-link').click();
    await expect.poll(() => dialogs.length).toBe(2);
    expect(dialogs[1]).toContain('Delete the rule "barn-co2"');
    expect(await page.locator('.rule').count()).toBe(2);
    page.once('dialog', (d) => void d.accept());
    await page.locator('.rule[data-index="1"] .btn-link').click();
    await expect.poll(() => page.locator('.rule').count()).toBe(1);
  });

  it('a refused save (the file changed meanwhile) shows what differs, and lets me keep mine or take theirs', async () => {
    // The form holds barn-co2 at 2100 (previous test), not saved. Someone else saves now.
    const theirs = rulesFile().replace('severity: warning', 'severity: critical');
    const put = await fetch(`${tg.httpUrl}/api/thresholds`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/yaml' },
      body: theirs,
    });
    expect(put.status).toBe(200);
    await page.click('#rules-save');
    const dialog = page.locator('dialog.dialog[open]');
    await dialog.waitFor();
    await shot('thresholds-conflict');
    expect(await dialog.locator('.diff .ins').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('above: 2100')]));
    expect(await dialog.locator('.diff .del').allTextContents()).toEqual(
      expect.arrayContaining([expect.stringContaining('severity: critical'), expect.stringContaining('above: 2500')]),
    );
    expect(rulesFile()).toBe(theirs);
    // Take theirs: my edits go, the page shows their file.
    await dialog.locator('button[data-choice="theirs"]').click();
    await expect.poll(() => page.locator('.rule[data-index="0"] select[name="severity"]').inputValue(), { timeout: 20_000 }).toBe('critical');
    expect(await page.locator('.rule').count()).toBe(1);

    // Again, and this time keep mine: saved over theirs.
    await page.locator('.rule[data-index="0"] input[name="above"]').fill('2200');
    const other = rulesFile().replace('severity: critical', 'severity: info');
    expect(
      (
        await fetch(`${tg.httpUrl}/api/thresholds`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/yaml' },
          body: other,
        })
      ).status,
    ).toBe(200);
    await page.click('#rules-save');
    await dialog.locator('button[data-choice="mine"]').click();
    await page.locator('#rules-banner.ok').waitFor();
    expect(rulesFile()).toContain('above: 2200');
    expect(rulesFile()).toContain('severity: "critical"'); // mine, whole: their "info" is overwritten
  });

  it('goes back to an earlier version of the rules file (kept by the gateway)', async () => {
    await page.click('#rules-history');
    const dialog = page.locator('dialog.dialog[open]');
    await dialog.locator('.versions li').nth(2).waitFor();
    // The version before the last save: theirs, with severity info.
    await dialog.locator('.versions li').nth(1).locator('button').click();
    await dialog.locator('.diff').waitFor();
    expect(await dialog.locator('.diff .ins').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('severity: info')]));
    await dialog.locator('button', { hasText: 'Go back to this version' }).click();
    await page.locator('#rules-banner.ok').filter({ hasText: 'Went back' }).waitFor();
    expect(rulesFile()).toContain('severity: info');
    expect(rulesFile()).toContain('above: 2500'); // theirs, whole: my 2200 is gone again
  });

  it('YAML errors: one missing } is one error; a click scrolls to its line; markers follow edits', async () => {
    await page.click('.subtab[data-mode="yaml"]');
    // A long file, so that the error line is off screen.
    const lines = rulesFile().split('\n');
    const padded = [lines[0]!, ...Array.from({ length: 60 }, (_, i) => `# note ${i}`), ...lines.slice(1)].join('\n');
    const broken = padded.replace(/match: \{ device: "barn-\*", sensor: co2 \}/, 'match: { device: "barn-*", sensor: co2');
    expect(broken).not.toBe(padded);
    await page.locator('#yaml-text').fill(broken);
    await page.click('#rules-save');
    await page.locator('#yaml-errors li').first().waitFor();
    expect(await page.locator('#yaml-errors li').count()).toBe(1);
    const text = (await page.locator('#yaml-errors li').textContent())!;
    const line = Number(/line (\d+)/.exec(text)![1]);
    await page.evaluate(`document.getElementById('yaml-text').scrollTop = 0`);
    await page.locator('#yaml-errors li').click();
    const scrolled: number = await page.evaluate(`document.getElementById('yaml-text').scrollTop`);
    expect(scrolled).toBeGreaterThan(0);
    expect(await page.locator(`#yaml-gutter div:nth-child(${line})`).getAttribute('class')).toBe('err');
    // Two lines added at the top: the marker moves down with its line.
    await page.evaluate(`(() => { const t = document.getElementById('yaml-text'); t.setSelectionRange(0, 0); t.focus(); })()`);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    expect(await page.locator(`#yaml-gutter div:nth-child(${line + 2})`).getAttribute('class')).toBe('err');
    expect(await page.locator(`#yaml-gutter div:nth-child(${line})`).getAttribute('class')).toBeNull();
    expect(await page.locator('#yaml-errors li').textContent()).toContain(`line ${line + 2}`);
    await reloadRules();
  });

  it('a stopped gateway looks stopped; after its restart, silent devices with firing noData alerts are listed', async () => {
    const rules = `${RULES}  - name: quiet\n    match: { device: "quiet-*", sensor: "*" }\n    noData: 1s\n    severity: warning\n`;
    const put = await fetch(`${tg.httpUrl}/api/thresholds`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/yaml', 'if-match': '*' },
      body: rules,
    });
    expect(put.status).toBe(200);
    await page.click('#tab-thresholds');
    await reloadRules();
    for (const d of ['quiet-1', 'quiet-2']) await publish(devices, `devices/${d}/telemetry`, JSON.stringify({ ts: Date.now(), readings: { temperature: 12 } }));
    await waitFor('both noData alerts firing', () => (tg.gw.alerts.firing().filter((a) => a.rule === 'quiet').length === 2 ? true : undefined));
    await page.click('#tab-sensors');
    await row('quiet-1', 'temperature').locator('.badge.warning').waitFor();
    expect(await row('quiet-1', 'temperature').locator('td.state').textContent()).toBe('offline');

    // Stopped: a clear banner, values marked stale, ages stop, saving off with the reason.
    const port = Number(new URL(tg.httpUrl).port);
    await tg.stop();
    const banner = page.locator('#gw-banner');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('Lost contact with the gateway');
    expect(await banner.getAttribute('role')).toBe('alert');
    expect(await page.locator('body').getAttribute('class')).toContain('gw-down');
    expect(await page.locator('#conn').textContent()).toBe('gateway unreachable');
    expect(await row('gh-1', 'temperature').locator('td.age').textContent()).toContain('as of then');
    await shot('sensors-gateway-down');
    await page.click('#tab-thresholds');
    expect(await page.locator('#rules-save').isDisabled()).toBe(true);
    expect(await page.locator('#rules-save-reason').textContent()).toContain('the gateway does not answer');

    // Restarted on the same folder and port: the page reconnects by itself; the silent devices are listed
    // from the restored alert state, though they have sent nothing since.
    tg = await startTestGateway({ influxUrl: influx.url, dir: tg.dir, overrides: { http: { host: '127.0.0.1', port, token: TOKEN } } });
    await page.locator('#conn.conn-on').waitFor({ timeout: 20_000 });
    expect(await banner.isHidden()).toBe(true);
    expect(await page.locator('#rules-save').isDisabled()).toBe(false);
    await page.click('#tab-sensors');
    await page.fill('#sensor-search', 'quiet');
    for (const d of ['quiet-1', 'quiet-2']) await row(d, 'temperature').locator('.badge.warning').waitFor({ timeout: 20_000 });
    expect(await row('quiet-2', 'temperature').locator('td.value').textContent()).toBe('–');
    expect(await page.locator('#sensor-summary').textContent()).toMatch(/^2 sensors matching/);
    // Devices whose sensors all have noData firing count as offline in the summary too.
    await expect.poll(() => page.locator('#sensor-summary .offline-count').textContent(), { timeout: 20_000 }).toMatch(/^[2-9]\d* offline$/);
    await page.fill('#sensor-search', '');
  });

  it('alerts view: firing alerts worst first, filter, a rule silenced (shown, marked, publishes nothing) and its recent changes', async () => {
    // The gateway was restarted (previous test): a new device connection and a new MQTT watcher.
    const sim = await connect(tg.mqttUrl, { clientId: 'sim-2' });
    const seen: { topic: string; state: string }[] = [];
    const watch = await connect(tg.mqttUrl, { clientId: 'watcher-2' });
    watch.on('message', (topic, payload) => seen.push({ topic, state: String((JSON.parse(payload.toString()) as { state: string }).state) }));
    await watch.subscribeAsync('alerts/#', { qos: 1 });
    try {
      await page.click('#tab-alerts');
      await page.locator('#alert-rows tr[data-rule="quiet"][data-device="quiet-1"]').waitFor();
      expect(await page.locator('#alert-rows tr').count()).toBe(2);
      await page.fill('#alert-filter', 'QUIET-2');
      await expect.poll(() => page.locator('#alert-rows tr').count()).toBe(1);
      await page.fill('#alert-filter', '');

      const line = page.locator('#alert-rules li[data-rule="quiet"]');
      await line.locator('select').selectOption('60');
      await line.locator('button[data-action="silence"]').click();
      await line.locator('button[data-action="unsilence"]').waitFor();
      await page.locator('#alert-rows tr.silenced[data-device="quiet-1"] .silence-state').filter({ hasText: 'silenced until' }).waitFor();
      await shot('alerts-silenced');

      // quiet-1 speaks again: its alert resolves in the gateway, but nothing is published while silenced.
      await waitFor('retained firing states', () => (seen.filter((m) => m.state === 'firing').length >= 2 ? true : undefined));
      await publish(sim, 'devices/quiet-1/telemetry', JSON.stringify({ ts: Date.now(), readings: { temperature: 13 } }));
      await waitFor('quiet-1 resolved in the gateway', () => (tg.gw.alerts.firing().some((a) => a.device === 'quiet-1') ? undefined : true));
      await expect.poll(() => page.locator('#alert-rows tr').count(), { timeout: 20_000 }).toBe(1);
      await line.locator('button', { hasText: 'Recent changes' }).click();
      await line.locator('.history li').filter({ hasText: 'resolved' }).filter({ hasText: 'silenced: not published' }).waitFor();
      expect(seen.filter((m) => m.topic === 'alerts/quiet-1/temperature/quiet').map((m) => m.state)).toEqual(['firing']);
      // The long history, from InfluxDB's alerts measurement (written through the outbox before the restart).
      // The outbox may not have delivered them yet: close and reopen the list until they are there.
      const recent = line.locator('button', { hasText: 'Recent changes' });
      await expect
        .poll(
          async () => {
            await recent.click();
            await recent.click();
            await line.locator('.history li.history-head').nth(1).waitFor();
            await line.locator('.history li').last().waitFor();
            return line.locator('.history li.stored').filter({ hasText: 'quiet-1 / temperature firing' }).count();
          },
          { timeout: 20_000, interval: 500 },
        )
        .toBeGreaterThan(0);

      // Ending the silence publishes what changed meanwhile.
      await line.locator('button[data-action="unsilence"]').click();
      await waitFor('the resolve published', () =>
        seen.some((m) => m.topic === 'alerts/quiet-1/temperature/quiet' && m.state === 'resolved') ? true : undefined,
      );
      // The rules list was drawn again (the silence ended): the recent changes left open stay open, reloaded.
      await line.locator('button[data-action="silence"]').waitFor();
      expect(await line.locator('button', { hasText: 'Recent changes' }).getAttribute('aria-expanded')).toBe('true');
      await line.locator('.history li').filter({ hasText: 'silenced: not published' }).waitFor();
      await page.click('#tab-sensors');
    } finally {
      await sim.endAsync();
      await watch.endAsync();
    }
  });

  it('logged no console errors (the favicon included: it answers without the token)', () => {
    // Chromium logs every refused fetch: the 401s asked for in the first test, the 400s and the 412 of the
    // refused saves. Nothing else may be logged.
    // And the refused connections while the gateway was stopped (the live stream retrying).
    const expected = /Failed to load resource: (the server responded with a status of (401|400|412)\b|net::ERR_CONNECTION_REFUSED)/;
    expect(consoleErrors.filter((e) => !expected.test(e))).toEqual([]);
  });
});

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { chromium, type Browser, type Page } from 'playwright-core';
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
  const rulesFile = () => readFileSync(tg.config.alerts.rulesFile, 'utf8');
  const row = (device: string, sensor: string) => page.locator(`tr[data-device="${device}"][data-sensor="${sensor}"]`);
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
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
    page = await context.newPage();
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
    const refused = await page.evaluate(async () => [(await fetch('/api/thresholds')).status, (await fetch('/api/thresholds', { method: 'PUT', body: 'rules: []' })).status]);
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
    await row('gh-1', 'temperature').locator('td.value').filter({ hasText: String(wave(19, 0)) }).waitFor();
    await row('barn-1', 'co2').locator('td.value').filter({ hasText: '990' }).waitFor();
    expect(await row('gh-2', 'temperature').locator('td.value').textContent()).toBe(String(wave(19, 2)));
    // All 20 readings of each sensor arrived within the last minute (arrival time, whatever their timestamps).
    await row('gh-1', 'temperature').locator('td.rate').filter({ hasText: /^20$/ }).waitFor();
    expect(await page.locator('#sensor-rows tr').count()).toBe(4);
    // Sparklines appear once windows are emitted (no reload).
    await row('gh-1', 'temperature').locator('svg.spark polyline').waitFor();
    expect(await row('gh-1', 'humidity').locator('td.alert').textContent()).toBe('ok');

    await page.fill('#device-filter', 'gh-*');
    await expect.poll(() => row('barn-1', 'co2').isHidden(), { timeout: 20_000 }).toBe(true);
    expect(await row('gh-1', 'temperature').isVisible()).toBe(true);
    await page.fill('#device-filter', '');
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
    expect(await page.locator('#rules-banner.error').textContent()).toContain('The rules file was not changed');
    await shot('thresholds-form-error');
    expect(rulesFile()).toBe(before);
    expect(tg.gw.alerts.rules().find((r) => r.name === 'gh-hot')).toMatchObject({ above: 30 });
  });

  it('edits the raw YAML: an error is shown at its line and changes nothing', async () => {
    const before = rulesFile();
    await page.click('#rules-reload');
    await expect.poll(() => page.locator('#rules-dirty').isHidden(), { timeout: 20_000 }).toBe(true);
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
    await page.click('#rules-reload');
    await expect.poll(() => page.locator('#rules-dirty').isHidden(), { timeout: 20_000 }).toBe(true);
    // Someone else changes the file after the page loaded it.
    const other = RULES.replace('above: 2000', 'above: 2500');
    const put = await fetch(`${tg.httpUrl}/api/thresholds`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/yaml' }, body: other });
    expect(put.status).toBe(200);

    await page.locator('#yaml-text').fill(RULES.replace('above: 2000', 'above: 1800'));
    await page.click('#rules-save');
    const banner = page.locator('#rules-banner.error');
    await banner.waitFor();
    expect(await banner.textContent()).toContain('someone else changed the rules file');
    expect(rulesFile()).toBe(other);

    await banner.locator('button').click();
    await expect.poll(() => page.locator('#yaml-text').inputValue(), { timeout: 20_000 }).toBe(other);
    await page.click('.subtab[data-mode="form"]');
    expect(await page.locator('.rule[data-index="0"] input[name="above"]').inputValue()).toBe('2500');
  });
});

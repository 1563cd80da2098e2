import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPageServer, type PageServer } from '../support/operator-page-server.js';

/**
 * The sensors view with many sensors, and on a phone, in Debian's chromium: the page alone over a synthetic live
 * view (test/support/operator-page-server.ts; no MQTT, no InfluxDB), so it is cheap. Timing is measured by
 * test/bench/operator-page-100k.ts, not here: these assert what is in the page.
 */
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const SENSORS = 6000;

describe('operator page with 6,000 sensors, desktop and phone', () => {
  let server: PageServer;
  let browser: Browser;
  const errors: string[] = [];
  const open = async (context: BrowserContext, path = '/'): Promise<Page> => {
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(server.url + path);
    await page.locator('#conn.conn-on').waitFor();
    return page;
  };

  beforeAll(async () => {
    const rule = {
      kind: 'threshold',
      name: 'temp-high',
      match: { device: 'dev-*', sensor: 'temperature' },
      severity: 'warning',
      above: 26,
      below: null,
      hysteresis: 0,
      forMs: 0,
    };
    server = await startPageServer({
      sensors: SENSORS,
      feedPerSecond: 3000,
      rules: [rule],
      grafanaUrl: 'http://grafana.test:3000/d/gw/sensor?var-device={device}&var-sensor={sensor}',
      units: { 'temp*': '°C', co2: 'ppm' },
    });
    server.firing.push({
      rule: 'co2-high',
      kind: 'threshold',
      device: 'dev-000001',
      sensor: 'co2',
      severity: 'critical',
      since: Date.now() - 60_000,
      firedAt: Date.now() - 60_000,
      value: 2400,
      threshold: 2000,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('keeps only the visible rows in the page, and fetches the others as it scrolls', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await open(context);
    await page.locator('tr.row[data-device="dev-000000"]').first().waitFor();
    expect(await page.locator('#sensor-summary').textContent()).toContain(`${SENSORS} sensors`);
    // The rule's limit is drawn on the sparklines of the sensors it watches, not on the others.
    await page.locator('tr.row[data-device="dev-000000"][data-sensor="temperature"] svg.spark line.limit').waitFor({ state: 'attached' });
    expect(await page.locator('tr.row[data-device="dev-000000"][data-sensor="co2"] svg.spark line.limit').count()).toBe(0);
    // http.grafanaUrl: a link per sensor to its panel.
    expect(await page.locator('tr.row[data-device="dev-000000"][data-sensor="co2"] a.grafana').getAttribute('href')).toBe(
      'http://grafana.test:3000/d/gw/sensor?var-device=dev-000000&var-sensor=co2',
    );
    // http.units: by sensor name glob; none where none is known.
    expect(await page.locator('tr.row[data-device="dev-000000"][data-sensor="temperature"] td.value .unit').textContent()).toBe(' °C');
    expect(await page.locator('tr.row[data-device="dev-000000"][data-sensor="co2"] td.value .unit').textContent()).toBe(' ppm');
    expect(await page.locator('tr.row[data-device="dev-000000"][data-sensor="humidity"] td.value .unit').count()).toBe(0);
    const inDom = await page.locator('#sensor-rows tr.row').count();
    expect(inDom).toBeLessThan(60);
    // The scroll bar covers every sensor: scrolling to the end shows the last device.
    await page.evaluate(`(() => { const s = document.getElementById('sensor-scroll'); s.scrollTop = s.scrollHeight; })()`);
    await page.locator('tr.row[data-device="dev-001999"][data-sensor="temperature"]').waitFor();
    expect(await page.locator('#sensor-rows tr.row').count()).toBeLessThan(60);
    // An alert sorts first when ordered by alert.
    await page.click('th[data-sort="alert"] button');
    await expect.poll(() => page.locator('tr.row[data-device]').first().getAttribute('data-device')).toBe('dev-000001');
    await context.close();
  });

  it('fits a 390 px phone: the top bar, the essential columns, and tooltips by touch', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    const page = await open(context, '/?q=dev-000001&sort=alert');
    await page.locator('tr.row[data-device="dev-000001"]').first().waitFor();
    const overflow: number = await page.evaluate(`document.documentElement.scrollWidth`);
    expect(overflow).toBeLessThanOrEqual(390);
    const bar: { right: number } = await page.evaluate(
      `(() => { const r = document.getElementById('conn').getBoundingClientRect(); return { right: r.right }; })()`,
    );
    expect(bar.right).toBeLessThanOrEqual(390);
    // Value and alert columns are shown; the table is no wider than the screen.
    const table: { width: number; value: boolean; alert: boolean } = await page.evaluate(`(() => {
      const t = document.querySelector('table.sensors');
      const vis = (sel) => { const e = document.querySelector(sel); return !!e && e.getBoundingClientRect().width > 0 && e.getBoundingClientRect().right <= 392; };
      return { width: t.getBoundingClientRect().width, value: vis('tr.row td.value'), alert: vis('tr.row td.alert') };
    })()`);
    expect(table.width).toBeLessThanOrEqual(390);
    expect(table.value && table.alert).toBe(true);
    // The alert's details open with a tap (there is no hover on a phone).
    await page.locator('tr.row[data-sensor="co2"] .badge.critical').first().tap();
    const tip = page.locator('#tip');
    await tip.waitFor();
    expect(await tip.textContent()).toContain('critical: co2-high (limit 2000)');
    await page.screenshot({ path: 'test-artifacts/operator-page/phone-sensors.png' });
    await context.close();
  });

  it('is usable by keyboard and readable: ARIA tabs with arrow keys, text contrast >= 4.5:1, control borders >= 3:1', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await open(context);
    await page.locator('tr.row[data-device]').first().waitFor();
    await page.focus('#tab-sensors');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    expect(await page.locator('#tab-thresholds').getAttribute('aria-selected')).toBe('true');
    expect(await page.evaluate(`document.activeElement.id`)).toBe('tab-thresholds');
    expect(await page.locator('#view-sensors').isHidden()).toBe(true);
    expect(await page.locator('#tab-sensors').getAttribute('tabindex')).toBe('-1');
    await page.keyboard.press('End');
    expect(await page.locator('#tab-health').getAttribute('aria-selected')).toBe('true');
    await page.keyboard.press('ArrowRight'); // wraps round
    expect(await page.locator('#tab-sensors').getAttribute('aria-selected')).toBe('true');
    expect(await page.locator('#gw-banner').getAttribute('role')).toBe('alert');
    expect(await page.locator('#sensor-summary').getAttribute('aria-live')).toBe('polite');
    // Every visible text node against the first opaque background behind it (WCAG 2.1 relative luminance).
    const low: string[] = await page.evaluate(`(() => {
      const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
      const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }).reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
      const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
      const bg = (e) => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length === 3 || c[3] > 0.9) return c.slice(0, 3); } return [255, 255, 255]; };
      const out = [];
      const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const e = n.parentElement;
        if (!n.textContent.trim() || !e || !e.getClientRects().length || getComputedStyle(e).visibility === 'hidden') continue;
        const c = rgb(getComputedStyle(e).color);
        if (c[3] === 0) continue; // transparent text (repeated device names) is not read
        const r = ratio(c.slice(0, 3), bg(e));
        if (r < 4.5) out.push(e.tagName + '.' + e.className + ' "' + n.textContent.trim().slice(0, 20) + '" ' + r.toFixed(2));
      }
      for (const e of document.querySelectorAll('input, select, button.btn')) {
        if (!e.getClientRects().length) continue;
        const r = ratio(rgb(getComputedStyle(e).borderTopColor).slice(0, 3), bg(e.parentElement));
        if (getComputedStyle(e).borderTopWidth !== '0px' && r < 3) out.push(e.tagName + '#' + e.id + ' border ' + r.toFixed(2));
      }
      return out;
    })()`);
    expect(low).toEqual([]);
    await context.close();
  });

  it('logged no console errors', () => {
    expect(errors).toEqual([]);
  });
});

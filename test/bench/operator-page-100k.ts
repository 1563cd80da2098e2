/**
 * The operator page at scale, in Debian's chromium: `npx tsx test/bench/operator-page-100k.ts [sensors] [readings/s]`.
 * Serves the page over a synthetic live view (test/support/operator-page-server.ts: 100,000 sensors by default,
 * 20,000 readings a second spread over them), then measures in the page with `performance` APIs:
 *   - the first stream message (bytes of the hello: a window, not every sensor);
 *   - frame times (requestAnimationFrame deltas) over 10 s of idle live updates and over 10 s of scrolling;
 *   - long tasks (PerformanceObserver 'longtask') over both;
 *   - input delay of typing a search (Event Timing: processingStart - startTime, and the whole duration to the
 *     next paint), and the time until the filtered window is shown;
 *   - rows in the DOM.
 * Not part of npm test (figures, no assertions); results go to BENCHMARKS.md by hand.
 */
import { chromium } from 'playwright-core';
import { startPageServer } from '../support/operator-page-server.js';

const sensors = Number(process.argv[2] ?? 100_000);
const feed = Number(process.argv[3] ?? 20_000);
const t0 = performance.now();
const server = await startPageServer({ sensors, feedPerSecond: feed });
console.log(`${sensors} sensors ready in ${Math.round(performance.now() - t0)} ms; feeding ${feed} readings/s`);

const hello = await fetch(`${server.url}/api/live/events`);
const reader = hello.body!.getReader();
let first = '';
while (!first.includes('\n\n', first.indexOf('event: hello'))) first += new TextDecoder().decode((await reader.read()).value);
await reader.cancel();
console.log(`hello: ${(Buffer.byteLength(first.slice(0, first.indexOf('\n\n', first.indexOf('event: hello')))) / 1024).toFixed(0)} kB`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const errors: string[] = [];
page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
page.on('pageerror', (e) => errors.push(e.message));
await page.goto(server.url);
await page.locator('#conn.conn-on').waitFor();
await page.locator('tr.row[data-device]').first().waitFor();

interface Measured {
  frames: number;
  p50: number;
  p95: number;
  max: number;
  longTasks: number;
  longTaskMs: number;
}
/** Frame deltas and long tasks while `action` runs for `ms` (browser-side code as text: this file has no DOM types). */
const measure = (action: 'idle' | 'scroll', ms: number): Promise<Measured> =>
  page.evaluate(`(async () => {
    const frames = [];
    const longTasks = [];
    const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => longTasks.push(e.duration)));
    obs.observe({ type: 'longtask', buffered: false });
    const scroller = document.getElementById('sensor-scroll');
    const end = performance.now() + ${ms};
    let last = performance.now();
    await new Promise((done) => {
      const step = (t) => {
        frames.push(t - last);
        last = t;
        if (${action === 'scroll'}) scroller.scrollTop += 2400; // 63 rows a frame: a fast fling through the list
        if (t < end) requestAnimationFrame(step);
        else done();
      };
      requestAnimationFrame(step);
    });
    obs.disconnect();
    frames.sort((a, b) => a - b);
    const q = (p) => frames[Math.min(frames.length - 1, Math.floor(p * frames.length))];
    return { frames: frames.length, p50: q(0.5), p95: q(0.95), max: q(1), longTasks: longTasks.length, longTaskMs: longTasks.reduce((a, b) => a + b, 0) };
  })()`);

const fmt = (r: Measured) =>
  `${r.frames} frames, frame p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, max ${r.max.toFixed(1)} ms; ${r.longTasks} long tasks, ${r.longTaskMs.toFixed(0)} ms in them`;
console.log(`idle (live updates) 10 s: ${fmt(await measure('idle', 10_000))}`);
console.log(`scrolling 10 s:           ${fmt(await measure('scroll', 10_000))}`);
console.log(`rows in the DOM: ${await page.locator('#sensor-rows tr').count()}`);

// Input delay: type a search, one key at a time, with Event Timing entries for each key.
await page.evaluate(`(() => {
  window.__events = [];
  new PerformanceObserver((l) => l.getEntries().forEach((t) => {
    if (t.name === 'keydown' || t.name === 'input' || t.name === 'keyup') window.__events.push({ delay: t.processingStart - t.startTime, duration: t.duration });
  })).observe({ type: 'event', durationThreshold: 16, buffered: true });
})()`);
await page.click('#sensor-search');
const typed = performance.now();
await page.keyboard.type('dev-0042', { delay: 120 });
await page.locator('#sensor-summary').filter({ hasText: 'matching “dev-0042”' }).waitFor();
await page.locator('tr.row[data-device^="dev-0042"]').first().waitFor();
const filtered = performance.now() - typed;
await page.waitForTimeout(500);
const events: { delay: number; duration: number }[] = await page.evaluate('window.__events');
const worstDelay = Math.max(0, ...events.map((e) => e.delay));
const worstDuration = Math.max(0, ...events.map((e) => e.duration));
console.log(
  `search "dev-0042" (8 keys, 120 ms apart): slowest input delay ${worstDelay.toFixed(1)} ms, slowest event to next paint ${worstDuration.toFixed(0)} ms (${events.length} events over 16 ms); typed to shown ${filtered.toFixed(0)} ms`,
);
await page.click('th[data-sort="value"] button');
const sorted = performance.now();
await page.waitForFunction(`new URL(location.href).searchParams.get('sort') === 'value'`);
await page.locator('tr.row[data-device]').first().waitFor();
console.log(`sort by value (filtered): ${(performance.now() - sorted).toFixed(0)} ms`);
console.log(`console errors: ${errors.length === 0 ? 'none' : errors.join(' | ')}`);
await browser.close();
await server.close();

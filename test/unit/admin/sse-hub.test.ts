import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BUCKET_MS, LiveView } from '../../../gateway/admin/live/live-view.js';
import { DEFAULT_QUERY, type WindowQuery } from '../../../gateway/admin/live/live-window.js';
import { SseHub } from '../../../gateway/admin/live/sse-hub.js';
import type { FiringAlert } from '../../../gateway/alerts/types.js';
import { createLogger } from '../../../gateway/log.js';

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % BUCKET_MS);

/** A page's response stream: what the hub writes, as SSE events `[name, data]`. */
class Page extends EventEmitter {
  text = '';
  writableLength = 0;
  writeHead(): this {
    return this;
  }
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  end(): void {}
  destroy(): void {}
  events(): [string, unknown][] {
    return this.text
      .split('\n\n')
      .map((e) => e.slice(Math.max(0, e.indexOf('event: ')))) // the first is preceded by `retry:`
      .filter((e) => e.startsWith('event: '))
      .map((e) => [e.slice(7, e.indexOf('\n')), JSON.parse(e.slice(e.indexOf('\ndata: ') + 7))]);
  }
}

function setup(resortMs = 2000) {
  const live = new LiveView(T0);
  let firingCalls = 0;
  const firing: FiringAlert[] = [];
  let now = T0 + 1;
  const hub = new SseHub({ live, firing: () => (firingCalls++, firing), now: () => now, log: createLogger('silent'), resortMs });
  const attach = (query: Partial<WindowQuery> = {}) => {
    const page = new Page();
    hub.attach(new EventEmitter() as IncomingMessage, page as unknown as ServerResponse, { ...DEFAULT_QUERY, ...query });
    return page;
  };
  return { live, hub, attach, firing, calls: () => firingCalls, advance: (ms: number) => (now += ms) };
}

const hot = (device: string, sensor: string, kind: 'threshold' | 'noData' = 'threshold') =>
  ({ rule: 'hot', kind, device, sensor, severity: 'warning', since: T0, firedAt: T0, value: 1, threshold: null }) as unknown as FiringAlert;

describe('SseHub', () => {
  it('does no work for nobody: with no page open a flush builds no view and reads no alert', () => {
    const { live, hub, attach, calls } = setup();
    live.onReading({ device: 'd', sensor: 'a', ts: T0, value: 1 });
    hub.flush();
    hub.flush();
    expect(calls()).toBe(0);
    // The first page gets its window in its hello; what changed before it is not sent again.
    const page = attach();
    hub.flush();
    const [hello] = page.events();
    expect(hello![0]).toBe('hello');
    expect(hello![1]).toMatchObject({
      now: T0 + 1,
      window: { total: 1, offset: 0, rows: [expect.objectContaining({ device: 'd', sensor: 'a', value: 1 })] },
      firing: [],
    });
    expect(
      page
        .events()
        .slice(1)
        .map(([n]) => n),
    ).not.toContain('sensors');
  });

  it('sends each page only the changed sensors of its own window, not the whole snapshot', () => {
    const { live, hub, attach } = setup();
    for (let i = 0; i < 50; i++) live.onReading({ device: `d${String(i).padStart(2, '0')}`, sensor: 's', ts: T0, value: i });
    const top = attach({ limit: 10 });
    const searched = attach({ q: 'D4', limit: 10 }); // case-insensitive substring: d4, d40..d49
    const helloOf = (p: Page) => p.events()[0]![1] as { window: { total: number; rows: { device: string }[] } };
    expect(helloOf(top).window.total).toBe(50);
    expect(helloOf(top).window.rows).toHaveLength(10);
    expect(helloOf(searched).window.total).toBe(10);
    expect(helloOf(searched).window.rows.map((r) => r.device)).toEqual(Array.from({ length: 10 }, (_, i) => `d4${i}`));
    for (const d of ['d03', 'd30', 'd42']) live.onReading({ device: d, sensor: 's', ts: T0 + 1, value: 100 });
    hub.flush();
    const sensorsOf = (p: Page) =>
      p
        .events()
        .filter(([n]) => n === 'sensors')
        .flatMap(([, d]) => (d as { sensors: { device: string }[] }).sensors.map((v) => v.device));
    expect(sensorsOf(top)).toEqual(['d03']);
    expect(sensorsOf(searched)).toEqual(['d42']);
  });

  it("moves a page's window when it asks (setQuery), and its deltas follow", () => {
    const { live, hub, attach } = setup();
    for (let i = 0; i < 30; i++) live.onReading({ device: `d${String(i).padStart(2, '0')}`, sensor: 's', ts: T0, value: i });
    const page = attach({ limit: 5 });
    const stream = (page.events()[0]![1] as { stream: string }).stream;
    const w = hub.setQuery(stream, { ...DEFAULT_QUERY, sort: 'value', desc: true, limit: 5 });
    expect(w.rows.map((r) => r.value)).toEqual([29, 28, 27, 26, 25]);
    live.onReading({ device: 'd00', sensor: 's', ts: T0 + 1, value: -1 });
    live.onReading({ device: 'd27', sensor: 's', ts: T0 + 1, value: 27.5 });
    hub.flush();
    const deltas = page
      .events()
      .filter(([n]) => n === 'sensors')
      .flatMap(([, d]) => (d as { sensors: { device: string }[] }).sensors.map((v) => v.device));
    expect(deltas).toEqual(['d27']);
  });

  it('re-sends the window when sensors are added (at most every resortMs), and for moving orders', () => {
    const { live, hub, attach, advance } = setup(1000);
    live.onReading({ device: 'b', sensor: 's', ts: T0, value: 1 });
    const page = attach();
    live.onReading({ device: 'a', sensor: 's', ts: T0, value: 2 });
    hub.flush();
    expect(page.events().map(([n]) => n)).not.toContain('window');
    advance(1000);
    hub.flush();
    const windows = page.events().filter(([n]) => n === 'window');
    expect(windows).toHaveLength(1);
    expect((windows[0]![1] as { window: { rows: { device: string }[] } }).window.rows.map((r) => r.device)).toEqual(['a', 'b']);
  });

  it('shows sensors known only from firing alerts (restored alert state after a restart), with no value', () => {
    const { hub, attach, firing } = setup();
    firing.push(hot('silent-1', 'temperature', 'noData'));
    const page = attach();
    const hello = page.events()[0]![1] as { window: { total: number; rows: { device: string; value: unknown; arrived: unknown }[] } };
    expect(hello.window.total).toBe(1);
    expect(hello.window.rows[0]).toMatchObject({ device: 'silent-1', value: null, arrived: null });
    // And one that starts firing later is added by the flush.
    firing.push(hot('silent-2', 'temperature', 'noData'));
    hub.flush();
    expect(hub.setQuery(undefined, DEFAULT_QUERY).rows.map((r) => r.device)).toEqual(['silent-1', 'silent-2']);
  });

  it('a second page does not take the changes of the first away; alerts are sent when the list changes', () => {
    const { live, hub, attach, firing } = setup();
    live.onReading({ device: 'd', sensor: 'a', ts: T0, value: 1 });
    const first = attach();
    const second = attach();
    live.onReading({ device: 'd', sensor: 'a', ts: T0 + 1, value: 2 });
    firing.push(hot('d', 'a'));
    hub.flush();
    hub.flush();
    for (const page of [first, second]) {
      expect(
        page
          .events()
          .slice(1)
          .map(([name]) => name),
      ).toEqual(['sensors', 'alerts', 'summary']);
    }
  });

  it('sends the health on connect, then only when it changed (checked every resortMs)', async () => {
    const live = new LiveView(T0);
    let now = T0;
    let status = 'ok';
    const hub = new SseHub({ live, firing: () => [], now: () => now, log: createLogger('silent'), resortMs: 1000, health: async () => ({ status }) });
    const page = new Page();
    hub.attach(new EventEmitter() as IncomingMessage, page as unknown as ServerResponse);
    const health = () =>
      page
        .events()
        .filter(([n]) => n === 'health')
        .map(([, d]) => (d as { health: { status: string } }).health.status);
    await new Promise((r) => setImmediate(r));
    expect(health()).toEqual(['ok']);
    now += 1000;
    hub.flush();
    await new Promise((r) => setImmediate(r));
    expect(health()).toEqual(['ok']); // unchanged: not sent again
    status = 'degraded';
    now += 1000;
    hub.flush();
    await new Promise((r) => setImmediate(r));
    expect(health()).toEqual(['ok', 'degraded']);
  });
});

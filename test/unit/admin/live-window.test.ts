import { describe, expect, it } from 'vitest';
import { BUCKET_MS, LiveView, MIN_ALLOWANCE_MS, UNKNOWN_CADENCE_ALLOWANCE_MS } from '../../../gateway/admin/live/live-view.js';
import { DEFAULT_QUERY, LiveWindows, MAX_WINDOW_ROWS, ORDER_TTL_MS, parseWindowQuery } from '../../../gateway/admin/live/live-window.js';
import type { FiringAlert } from '../../../gateway/alerts/types.js';

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % BUCKET_MS);
const alert = (device: string, sensor: string, severity: FiringAlert['severity']) =>
  ({ rule: 'r', kind: 'threshold', device, sensor, severity, since: T0, firedAt: T0, value: 0, threshold: 1 }) as FiringAlert;

function fill() {
  const live = new LiveView(T0);
  const data: [string, string, number][] = [
    ['Barn-1', 'co2', 900],
    ['gh-2', 'temperature', 25],
    ['gh-1', 'temperature', 21],
    ['gh-1', 'humidity', 60],
  ];
  for (const [device, sensor, value] of data) live.onReading({ device, sensor, ts: T0, value });
  return { live, windows: new LiveWindows(live) };
}
const names = (rows: { device: string; sensor: string }[]) => rows.map((r) => `${r.device}/${r.sensor}`);

describe('LiveWindows', () => {
  it('filters by a case-insensitive substring of the device or the sensor, in device-then-sensor order', () => {
    const { windows } = fill();
    const q = (text: string) => names(windows.query({ ...DEFAULT_QUERY, q: text }, [], T0).window.rows);
    expect(q('')).toEqual(['Barn-1/co2', 'gh-1/humidity', 'gh-1/temperature', 'gh-2/temperature']);
    expect(q('BARN')).toEqual(['Barn-1/co2']);
    expect(q('temp')).toEqual(['gh-1/temperature', 'gh-2/temperature']);
    expect(q('h-1')).toEqual(['gh-1/humidity', 'gh-1/temperature']);
    expect(q('nothing')).toEqual([]);
  });

  it('sorts by value, sensor and alert severity, either way, and pages with offset/limit', () => {
    const { windows } = fill();
    const q = (sort: string, desc = false, offset = 0, limit = 10) =>
      windows.query(
        { ...DEFAULT_QUERY, sort: sort as 'value', desc, offset, limit },
        [alert('gh-2', 'temperature', 'warning'), alert('gh-1', 'humidity', 'critical')],
        T0,
      ).window;
    expect(q('value').rows.map((r) => r.value)).toEqual([21, 25, 60, 900]);
    expect(q('value', true).rows.map((r) => r.value)).toEqual([900, 60, 25, 21]);
    expect(names(q('sensor').rows)).toEqual(['Barn-1/co2', 'gh-1/humidity', 'gh-1/temperature', 'gh-2/temperature']);
    expect(names(q('alert').rows).slice(0, 2)).toEqual(['gh-1/humidity', 'gh-2/temperature']);
    expect(names(q('device', true).rows)[0]).toBe('gh-2/temperature');
    const page = q('device', false, 1, 2);
    expect(page.total).toBe(4);
    expect(page.offset).toBe(1);
    expect(names(page.rows)).toEqual(['gh-1/humidity', 'gh-1/temperature']);
  });

  it('shares one sort between windows of the same query for ORDER_TTL_MS, and sorts again once a sensor is added', () => {
    const { live, windows } = fill();
    const byValue = (offset: number, now: number) =>
      windows.query({ ...DEFAULT_QUERY, sort: 'value', offset, limit: 2 }, [], now).window.rows.map((r) => r.value);
    expect(byValue(0, T0)).toEqual([21, 25]);
    live.onReading({ device: 'gh-2', sensor: 'temperature', ts: T0 + 1, value: 1 }); // changes the order, adds no sensor
    expect(byValue(2, T0 + 10)).toEqual([60, 900]); // the next page of the same (cached) order: consistent while scrolling
    expect(byValue(0, T0 + ORDER_TTL_MS)).toEqual([1, 21]); // expired: sorted again
    live.onReading({ device: 'a', sensor: 'new', ts: T0, value: -5 });
    expect(byValue(0, T0 + ORDER_TTL_MS + 1)).toEqual([-5, 1]); // a new sensor: sorted again at once
  });

  it('calls a device offline by its own cadence: three of its usual gaps, at least 10 s', () => {
    const live = new LiveView(T0);
    for (let t = 0; t <= 10; t++) {
      live.tick(T0 + t * 1000);
      live.onReading({ device: 'fast', sensor: 's', ts: T0 + t * 1000, value: t });
    }
    for (let t = 0; t <= 2; t++) {
      live.tick(T0 + 10_000 + t * 60_000);
      live.onReading({ device: 'slow', sensor: 's', ts: 0, value: t });
    }
    live.onReading({ device: 'once', sensor: 's', ts: 0, value: 0 });
    const views = new Map(live.snapshot().map((v) => [v.device, v]));
    expect(views.get('fast')!.offlineAfterMs).toBe(MIN_ALLOWANCE_MS);
    expect(views.get('slow')!.offlineAfterMs).toBeGreaterThan(150_000);
    expect(views.get('once')!.offlineAfterMs).toBe(UNKNOWN_CADENCE_ALLOWANCE_MS);
    const windows = new LiveWindows(live);
    const lastSlow = T0 + 10_000 + 120_000;
    expect(windows.devices(lastSlow + 1000)).toEqual({ devices: 3, offline: 1, sensors: 3 }); // fast: silent 111 s
    expect(windows.devices(lastSlow + 200_000)).toEqual({ devices: 3, offline: 3, sensors: 3 });
    // A noData alert firing on a device's only sensor makes it offline whatever the silence so far.
    const noData = {
      rule: 'quiet',
      kind: 'noData',
      device: 'slow',
      sensor: 's',
      severity: 'warning',
      since: 0,
      firedAt: 0,
      value: 0,
      threshold: null,
    } as FiringAlert;
    expect(windows.devices(lastSlow + 1000, [noData])).toEqual({ devices: 3, offline: 2, sensors: 3 });
  });

  it('parses URL parameters leniently: bad values fall back to defaults, limits are capped', () => {
    expect(parseWindowQuery({})).toEqual(DEFAULT_QUERY);
    expect(parseWindowQuery({ q: 'gh', sort: 'value', dir: 'desc', offset: '40', limit: '99999' })).toEqual({
      q: 'gh',
      sort: 'value',
      desc: true,
      offset: 40,
      limit: MAX_WINDOW_ROWS,
    });
    expect(parseWindowQuery({ sort: 'nope', offset: '-3', limit: 'x', q: ['a'] })).toEqual(DEFAULT_QUERY);
    expect(parseWindowQuery({ q: 'x'.repeat(1000) }).q).toHaveLength(256);
  });
});

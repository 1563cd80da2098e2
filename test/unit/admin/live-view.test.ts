import { describe, expect, it } from 'vitest';
import { BUCKET_MS, LiveView, SPARK_WINDOWS } from '../../../gateway/admin/live/live-view.js';
import type { WindowPoint } from '../../../gateway/pipeline/types.js';

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % BUCKET_MS);
const win = (start: number, mean: number, revision = 0): WindowPoint => ({
  device: 'd',
  sensor: 's',
  start,
  mean,
  min: mean,
  max: mean,
  first: mean,
  last: mean,
  count: 1,
  revision,
});

describe('LiveView', () => {
  it("keeps every sensor's counts and windows apart when their numbers share slabs (more sensors than one slab holds)", () => {
    const live = new LiveView(T0);
    const n = 700;
    live.tick(T0);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k <= i % 5; k++) live.onReading({ device: `d${i}`, sensor: 's', ts: T0 + k, value: i });
      for (let w = 0; w < 1 + (i % 3); w++) live.onWindow({ ...win(T0 + w * 10_000, i + w / 10), device: `d${i}` });
    }
    live.tick(T0 + 1);
    const views = new Map(live.snapshot().map((v) => [v.device, v]));
    for (let i = 0; i < n; i++) {
      const v = views.get(`d${i}`)!;
      expect(v.value).toBe(i);
      expect(v.perMinute).toBe(1 + (i % 5));
      expect(v.windows).toEqual(Array.from({ length: 1 + (i % 3) }, (_, w) => [T0 + w * 10_000, i + w / 10]));
    }
  });

  it('keeps the value of the newest reading by timestamp, whatever the arrival order', () => {
    const live = new LiveView(T0);
    live.onReading({ device: 'd', sensor: 's', ts: 2000, value: 2 });
    live.onReading({ device: 'd', sensor: 's', ts: 1000, value: 1 });
    expect(live.snapshot()).toMatchObject([{ device: 'd', sensor: 's', value: 2, ts: 2000 }]);
  });

  it('counts readings per minute over the six full 10 s buckets, and decays to 0 when the sensor stops', () => {
    const live = new LiveView(T0);
    for (let b = 0; b < 8; b++) {
      live.tick(T0 + b * BUCKET_MS);
      for (let i = 0; i < 10; i++) live.onReading({ device: 'd', sensor: 's', ts: T0 + b * BUCKET_MS + i, value: i });
    }
    live.tick(T0 + 8 * BUCKET_MS); // buckets 2..7 full: 60 readings
    expect(live.snapshot()[0]!.perMinute).toBe(60);
    live.drain();
    live.tick(T0 + 11 * BUCKET_MS); // buckets 5..10: only 5, 6, 7 counted
    const changed = live.drain();
    expect(changed).toHaveLength(1); // the rate changed without a reading: queued by the tick
    expect(changed[0]!.perMinute).toBe(30);
    live.tick(T0 + 20 * BUCKET_MS);
    expect(live.drain()[0]!.perMinute).toBe(0);
    live.tick(T0 + 30 * BUCKET_MS);
    expect(live.drain()).toEqual([]); // no longer active: nothing to send
  });

  it('is a sliding minute: readings of the bucket being filled count at once, the oldest bucket is prorated', () => {
    const live = new LiveView(T0);
    for (let i = 0; i < 5; i++) live.onReading({ device: 'd', sensor: 's', ts: i, value: i });
    expect(live.snapshot()[0]!.perMinute).toBe(5); // no need to wait for a bucket to fill
    // One reading per second for two minutes, read at every half bucket: always 60 (+-1 at the edges).
    for (let t = 0; t < 120_000; t += 1000) {
      live.tick(T0 + 60_000 + t);
      live.onReading({ device: 'd', sensor: 's', ts: 100 + t, value: 1 });
      if (t >= 60_000 && t % 5000 === 0) expect(Math.abs(live.snapshot()[0]!.perMinute - 60), `at ${t}`).toBeLessThanOrEqual(1);
    }
  });

  it('reuses ring slots correctly after a long silence', () => {
    const live = new LiveView(T0);
    for (let i = 0; i < 5; i++) live.onReading({ device: 'd', sensor: 's', ts: i, value: i });
    live.tick(T0 + 7 * BUCKET_MS); // same slot (7 % 7 === 0) as the first bucket
    live.onReading({ device: 'd', sensor: 's', ts: 10, value: 1 });
    live.tick(T0 + 8 * BUCKET_MS);
    expect(live.snapshot()[0]!.perMinute).toBe(1);
  });

  it('drains each changed sensor once per batch, with windows only where they changed', () => {
    const live = new LiveView(T0);
    live.onWindow(win(0, 1));
    for (let i = 0; i < 100; i++) live.onReading({ device: 'd', sensor: 's', ts: i, value: i });
    live.onReading({ device: 'e', sensor: 's', ts: 1, value: 1 });
    const first = live.drain();
    expect(first.map((v) => v.device)).toEqual(['d', 'e']);
    expect(first[0]!.windows).toEqual([[0, 1]]);
    live.onReading({ device: 'd', sensor: 's', ts: 200, value: 5 });
    const second = live.drain();
    expect(second).toHaveLength(1);
    expect(second[0]).not.toHaveProperty('windows');
    expect(live.drain()).toEqual([]);
  });

  it('keeps the last windows in order, replaces a corrected one and ignores corrections older than the ring', () => {
    const live = new LiveView(T0);
    for (let i = 0; i < SPARK_WINDOWS + 5; i++) live.onWindow(win(i * 1000, i));
    live.onWindow(win((SPARK_WINDOWS + 2) * 1000, -1, 1)); // correction inside the ring
    live.onWindow(win(0, 99, 1)); // too old to be shown
    const w = live.snapshot()[0]!.windows!;
    expect(w).toHaveLength(SPARK_WINDOWS);
    expect(w[0]).toEqual([5000, 5]);
    expect(w.at(-1)).toEqual([(SPARK_WINDOWS + 4) * 1000, SPARK_WINDOWS + 4]);
    expect(w.find(([s]) => s === (SPARK_WINDOWS + 2) * 1000)![1]).toBe(-1);
    expect(w.some(([, m]) => m === 99)).toBe(false);
    expect(live.snapshot()[0]).toMatchObject({ value: null, ts: null });
  });

  it('marks every sensor of a device offline until its next reading (a Sparkplug death)', () => {
    const live = new LiveView(T0);
    live.onReading({ device: 'g/e/d', sensor: 'Motor/Speed', ts: 1000, value: 1 });
    live.onReading({ device: 'g/e/d', sensor: 'Temp', ts: 1000, value: 2 });
    live.onReading({ device: 'g/e', sensor: 'Temp', ts: 1000, value: 3 });
    live.drain();
    live.markOffline('g/e/d');
    live.markOffline('unknown');
    expect(live.drain().map((v) => [v.device, v.sensor, v.offline])).toEqual([
      ['g/e/d', 'Motor/Speed', true],
      ['g/e/d', 'Temp', true],
    ]);
    live.onReading({ device: 'g/e/d', sensor: 'Temp', ts: 2000, value: 4 });
    const back = live.drain();
    expect(back).toMatchObject([{ device: 'g/e/d', sensor: 'Temp', value: 4, ts: 2000, perMinute: 2 }]);
    expect(back[0]!.offline).toBeUndefined();
    expect(
      live
        .snapshot()
        .filter((v) => v.offline)
        .map((v) => v.sensor),
    ).toEqual(['Motor/Speed']);
  });

  it('lists sensors sorted by device then sensor', () => {
    const live = new LiveView(T0);
    for (const [device, sensor] of [
      ['b', 'x'],
      ['a', 'y'],
      ['a', 'x'],
    ] as const)
      live.onReading({ device, sensor, ts: 1, value: 1 });
    expect(live.snapshot().map((v) => `${v.device}/${v.sensor}`)).toEqual(['a/x', 'a/y', 'b/x']);
    expect(live.size).toBe(3);
    expect([...live.keys()]).toHaveLength(3);
  });
});

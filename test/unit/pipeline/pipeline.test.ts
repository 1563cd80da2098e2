import { describe, expect, it } from 'vitest';
import { Pipeline, PipelineSnapshotError } from '../../../gateway/pipeline/pipeline.js';
import { restoreSnapshot, takeSnapshot } from '../../../gateway/pipeline/snapshot.js';
import type { WindowPoint } from '../../../gateway/pipeline/types.js';
import { harness, T0 } from './pipeline-harness.js';

/**
 * The pipeline's windows: aggregates, closing, late data and corrections; its snapshot and settings checks.
 * Duplicates and the bound on sensors per device: pipeline-dedup.test.ts.
 */

const agg = (w: WindowPoint) => ({ start: w.start, mean: w.mean, min: w.min, max: w.max, first: w.first, last: w.last, count: w.count, revision: w.revision });

describe('window aggregates', () => {
  it('aggregates one window: mean, min, max, first, last, count', () => {
    const h = harness();
    h.one(T0 + 3000, 2);
    h.one(T0 + 1000, 4); // out of order within the window: first is by ts, not arrival
    h.one(T0 + 9000, -1);
    h.one(T0 + 5000, 7);
    h.p.tick(Number.MAX_VALUE);
    expect(h.windows.map(agg)).toEqual([{ start: T0, mean: 3, min: -1, max: 7, first: 4, last: -1, count: 4, revision: 0 }]);
  });

  it('historical readings land in their windows (correcting emitted ones) but are not handed to out.reading', () => {
    const h = harness();
    h.one(T0 + 1_000, 1);
    h.one(T0 + 16_000, 2); // watermark T0 + 11 s: the first window is emitted
    expect(h.windows.map(agg)).toEqual([{ start: T0, mean: 1, min: 1, max: 1, first: 1, last: 1, count: 1, revision: 0 }]);
    expect(h.send({ ts: T0 + 2_000, readings: [{ sensor: 't', value: 3 }], historical: true })).toEqual({
      accepted: 1,
      duplicate: 0,
      late: 0,
      tooManySensors: 0,
    });
    h.send({ ts: T0 + 17_000, readings: [{ sensor: 't', value: 9 }], historical: true });
    h.one(T0 + 31_000, 4); // emits the corrected first window and the second
    expect(h.windows.map(agg).slice(1)).toEqual([
      { start: T0, mean: 2, min: 1, max: 3, first: 1, last: 3, count: 2, revision: 1 },
      { start: T0 + 10_000, mean: 5.5, min: 2, max: 9, first: 2, last: 9, count: 2, revision: 0 },
    ]);
    expect(h.readings.map((r) => r.value)).toEqual([1, 2, 4]);
  });

  it('breaks ts ties deterministically and treats -0 as 0', () => {
    const h = harness();
    const gw = (ts: number, value: number) => h.send({ ts, tsFromDevice: false, readings: [{ sensor: 't', value }] });
    gw(T0 + 100, 5);
    gw(T0 + 100, 3);
    gw(T0 + 900, 1);
    gw(T0 + 900, 8);
    gw(T0 + 500, -0);
    h.p.tick(Number.MAX_VALUE);
    const w = h.windows[0]!;
    expect(agg(w)).toMatchObject({ first: 3, last: 8, min: 0, max: 8, count: 5 });
    expect(Object.is(w.min, 0)).toBe(true);
    expect(Object.is(h.readings[4]!.value, 0)).toBe(true);
  });

  it('keeps the mean exact and finite with huge values', () => {
    const h = harness();
    h.one(T0 + 1, Number.MAX_VALUE);
    h.one(T0 + 2, Number.MAX_VALUE);
    h.one(T0 + 3, 0.5);
    h.one(T0 + 4, -Number.MAX_VALUE);
    h.one(T0 + 10_001, 1e308);
    h.one(T0 + 10_002, 1e308);
    h.p.tick(Number.MAX_VALUE);
    expect(h.windows[0]!.mean).toBe(Number.MAX_VALUE / 4 + 0.5 / 4);
    expect(h.windows[1]!.mean).toBe(1e308);
  });

  it('aligns windows to the epoch', () => {
    const h = harness({ intervalMs: 60_000 });
    h.one(T0 + 59_999, 1);
    h.one(T0 + 60_000, 2);
    h.p.tick(Number.MAX_VALUE);
    expect(h.windows.map((w) => w.start)).toEqual([T0, T0 + 60_000]);
  });
});

describe('closing windows', () => {
  it('emits a window once the watermark (greatest ts - allowed lateness) passes its end', () => {
    const h = harness(); // interval 10s, lateness 5s
    h.one(T0 + 1000, 1);
    h.one(T0 + 14_999, 2); // watermark T0 + 9_999 < end T0 + 10_000
    expect(h.windows).toHaveLength(0);
    h.one(T0 + 15_000, 3); // watermark reaches the end
    expect(h.windows.map(agg)).toEqual([{ start: T0, mean: 1, min: 1, max: 1, first: 1, last: 1, count: 1, revision: 0 }]);
  });

  it('closes a quiet sensor by the gateway clock: max(end, latest arrival) + allowed lateness', () => {
    const h = harness();
    h.one(T0 + 1000, 1, T0 + 1000);
    h.p.tick(T0 + 14_999);
    expect(h.windows).toHaveLength(0);
    h.p.tick(T0 + 15_000); // end T0+10s + 5s
    expect(h.windows).toHaveLength(1);
  });

  it('waits for a backlog to stop arriving before the idle close', () => {
    const h = harness();
    const arrival = T0 + 3_600_000; // an hour-old backlog, flushed now, newest first
    for (let i = 0; i < 20; i++) {
      h.one(T0 + 9_500 - i * 500, i, arrival + i * 1000);
      h.p.tick(arrival + i * 1000 + 999);
    }
    expect(h.windows).toHaveLength(0);
    h.p.tick(arrival + 19_000 + 4_999);
    expect(h.windows).toHaveLength(0);
    h.p.tick(arrival + 19_000 + 5_000);
    expect(h.windows.map(agg)).toEqual([{ start: T0, mean: 9.5, min: 0, max: 19, first: 19, last: 0, count: 20, revision: 0 }]);
  });

  it('emits the windows of an in-order backlog as the watermark passes them', () => {
    const h = harness();
    for (let i = 0; i < 60; i++) h.one(T0 + i * 1000, i, T0 + 999_999);
    expect(h.windows.map((w) => [w.start, w.count])).toEqual([
      [T0, 10],
      [T0 + 10_000, 10],
      [T0 + 20_000, 10],
      [T0 + 30_000, 10],
      [T0 + 40_000, 10],
    ]);
  });
});

describe('late data', () => {
  it('re-emits a corrected window with revision + 1 while within the correction horizon', () => {
    const h = harness(); // correction horizon 60s
    h.one(T0 + 1000, 1);
    h.one(T0 + 16_000, 2); // closes [T0, T0+10s)
    h.one(T0 + 5000, 3); // late, window end T0+10s > watermark T0+11s - 60s
    expect(h.windows.map(agg)).toEqual([
      { start: T0, mean: 1, min: 1, max: 1, first: 1, last: 1, count: 1, revision: 0 },
      { start: T0, mean: 2, min: 1, max: 3, first: 1, last: 3, count: 2, revision: 1 },
    ]);
    h.one(T0 + 2000, 5);
    expect(agg(h.windows[2]!)).toEqual({ start: T0, mean: 3, min: 1, max: 5, first: 1, last: 3, count: 3, revision: 2 });
  });

  it('emits a late window that had no data yet as revision 0', () => {
    const h = harness();
    h.one(T0 + 31_000, 1);
    h.one(T0 + 12_000, 2);
    expect(h.windows.map(agg)).toEqual([{ start: T0 + 10_000, mean: 2, min: 2, max: 2, first: 2, last: 2, count: 1, revision: 0 }]);
  });

  it('counts a reading late once its window is beyond the correction horizon', () => {
    const h = harness({ correctionHorizonMs: 20_000 });
    h.one(T0 + 1000, 1);
    expect(h.one(T0 + 35_000, 2)).toEqual({ accepted: 1, duplicate: 0, late: 0, tooManySensors: 0 }); // watermark T0+30s: end T0+10s <= 30s - 20s
    const before = h.windows.length;
    expect(h.one(T0 + 9_999, 3)).toEqual({ accepted: 0, duplicate: 0, late: 1, tooManySensors: 0 });
    expect(h.one(T0 + 10_000, 3)).toEqual({ accepted: 1, duplicate: 0, late: 0, tooManySensors: 0 }); // window [10s, 20s) is still correctable
    expect(h.windows.slice(before).map((w) => [w.start, w.revision, w.count])).toEqual([[T0 + 10_000, 0, 1]]);
  });

  it('counts a reading older than the dedup horizon late, even inside the correction horizon', () => {
    const h = harness({ dedupHorizonMs: 10_000, correctionHorizonMs: 600_000 });
    h.one(T0 + 50_000, 1);
    expect(h.one(T0 + 39_999, 2).late).toBe(1);
    expect(h.one(T0 + 40_000, 2).accepted).toBe(1);
    expect(h.one(T0 + 40_000, 5).duplicate).toBe(1); // its key is kept exactly as long as it can be accepted
  });

  it('still catches an immediate repeat with a zero dedup horizon', () => {
    const h = harness({ dedupHorizonMs: 0 });
    h.one(T0 + 5, 1);
    expect(h.one(T0 + 5, 1)).toEqual({ accepted: 0, duplicate: 1, late: 0, tooManySensors: 0 });
    expect(h.one(T0 + 4, 1)).toEqual({ accepted: 0, duplicate: 0, late: 1, tooManySensors: 0 });
  });

  it('reopens a window closed by the idle tick when more data comes for it', () => {
    const h = harness();
    h.one(T0 + 1000, 1, T0 + 1000);
    h.p.tick(T0 + 15_000);
    h.one(T0 + 2000, 3, T0 + 16_000);
    expect(h.windows).toHaveLength(1); // its end is still ahead of the watermark: waits like an open window
    h.p.tick(T0 + 21_000);
    expect(h.windows.map((w) => [w.revision, w.count, w.mean])).toEqual([
      [0, 1, 1],
      [1, 2, 2],
    ]);
  });
});

describe('snapshot', () => {
  it('refuses a snapshot taken with another interval, and malformed ones', () => {
    const h = harness();
    h.one(T0 + 1, 1);
    const bin = h.p.snapshot();
    const out = { window: () => {} };
    const settings = { intervalMs: 10_000, allowedLatenessMs: 0, correctionHorizonMs: 0, dedupHorizonMs: 0 };
    expect(() => new Pipeline({ ...settings, intervalMs: 60_000 }, out, bin)).toThrow(PipelineSnapshotError);
    expect(new Pipeline(settings, out, bin).stats()).toEqual({ sensors: 1, openWindows: 1, retainedWindows: 0, dedupKeys: 1 });
    // Truncated, or one byte changed: refused by the checksum before anything is decoded.
    expect(() => new Pipeline(settings, out, bin.subarray(0, bin.length - 1))).toThrow(PipelineSnapshotError);
    const flipped = Buffer.from(bin);
    flipped[8] = flipped[8]! ^ 1;
    expect(() => new Pipeline(settings, out, flipped)).toThrow(PipelineSnapshotError);
    // Well-formed bytes of a state the pipeline cannot reach: an open window whose sensor is not pending.
    const { devices } = restoreSnapshot(bin, 10_000);
    expect(() => new Pipeline(settings, out, takeSnapshot(10_000, devices, new Set()))).toThrow(PipelineSnapshotError);
  });

  it('rejects settings that make no sense', () => {
    const out = { window: () => {} };
    expect(() => new Pipeline({ intervalMs: 0, allowedLatenessMs: 0, correctionHorizonMs: 0, dedupHorizonMs: 0 }, out)).toThrow(RangeError);
    expect(() => new Pipeline({ intervalMs: 10, allowedLatenessMs: -1, correctionHorizonMs: 0, dedupHorizonMs: 0 }, out)).toThrow(RangeError);
  });
});

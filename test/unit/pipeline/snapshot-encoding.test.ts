import { describe, expect, it } from 'vitest';
import { Pipeline, PipelineSnapshotError, type PipelineSnapshot } from '../../../gateway/pipeline/pipeline.js';
import type { DeviceMessage, PipelineSettings, WindowPoint } from '../../../gateway/pipeline/types.js';
import { jsonSnapshotOf } from './snapshot-support.js';

/**
 * Snapshot version 2 (delta-encoded keys and records, runs of equal differences), as older gateways stored it:
 * what it holds, and that it still restores. Version 3 (the one written now): snapshot-binary.test.ts.
 */
const T0 = 1_699_999_200_000;
const settings: PipelineSettings = { intervalMs: 10_000, allowedLatenessMs: 5_000, correctionHorizonMs: 60_000, dedupHorizonMs: 60_000 };

function make(snapshot?: PipelineSnapshot) {
  const windows: WindowPoint[] = [];
  const p = new Pipeline(settings, { window: (w) => windows.push(w), reading: () => {} }, snapshot);
  const send = (ts: number, value: number, sensor = 't', arrival = ts) =>
    p.ingest({ device: 'd1', ts, tsFromDevice: true, seq: undefined, readings: [{ sensor, value }] } as DeviceMessage, arrival);
  return { p, windows, send };
}

const roundTrip = (p: Pipeline) => jsonSnapshotOf(p.snapshot(), settings.intervalMs);

/** Steady keys (runs), irregular keys, late keys inserted in the middle, a few windows sealed for corrections. */
function feed(send: (ts: number, v: number, s?: string) => unknown): void {
  for (let i = 0; i < 300; i++) send(T0 + i * 100, i % 7, 'steady');
  let ts = T0;
  for (let i = 0; i < 200; i++) send((ts += 1 + ((i * 37) % 11)), i / 10, 'jitter');
  for (let i = 0; i < 40; i++) send(T0 + 5 + i * 250, 3.25, 'steady'); // late, between existing keys
}

describe('pipeline snapshot encoding', () => {
  it('stores keys as differences, runs of equal ones as [-n, d], and window times as small offsets', () => {
    const h = make();
    feed(h.send);
    const snap = roundTrip(h.p);
    expect(snap.version).toBe(2);
    const steady = snap.sensors.find((s) => s[1] === 'steady')!;
    expect(steady[4][0]).toBeGreaterThan(T0 - 1);
    expect(steady[4].slice(1).every((x) => Math.abs(x) < 10_000)).toBe(true);
    expect(steady[4].some((x) => x < -100)).toBe(true); // the steady tail: ~200 differences of 100 after the last late key
    expect(steady[4].length).toBeLessThan(200); // of 340 keys
    for (const s of snap.sensors) for (const rec of [s[5], s[6]]) if (rec.length > 0) expect(rec[4]).toBeLessThan(settings.intervalMs);
  });

  it('restores to a pipeline that behaves exactly like the original', () => {
    const a = make();
    feed(a.send);
    const b = make(roundTrip(a.p));
    expect(b.p.snapshot()).toEqual(a.p.snapshot());
    expect(b.p.stats()).toEqual(a.p.stats());
    a.windows.length = 0;
    // Duplicates of restored keys (steady, jitter, late ones) are still refused; a correction reopens a sealed window.
    for (const h of [a, b]) {
      expect(h.send(T0 + 100 * 299, 1, 'steady').accepted).toBe(0);
      expect(h.send(T0 + 5 + 250 * 39, 1, 'steady').accepted).toBe(0);
      expect(h.send(T0 + 29_950, 1, 'steady').accepted).toBe(1);
      h.p.tick(Number.MAX_VALUE);
    }
    expect(b.windows).toEqual(a.windows);
  });

  it('still restores a version 1 snapshot (plain numbers, as written before version 2)', () => {
    const a = make();
    a.send(T0 + 1000, 1);
    a.send(T0 + 2000, 2);
    a.send(T0 + 12_000, 3);
    a.p.tick(T0 + 30_000);
    const v1: PipelineSnapshot = {
      version: 1,
      intervalMs: 10_000,
      devices: [['d1', null, []]],
      // sealed record: [start, count, min, max, firstTs, first, lastTs, last, rev, nPartials, nBig, ...partials]
      sensors: [[0, 't', T0 + 12_000, T0 + 12_000, [T0 + 1000, T0 + 2000, T0 + 12_000], [], [T0, 2, 1, 2, T0 + 1000, 1, T0 + 2000, 2, 1, 1, 0, 3, T0 + 10_000, 1, 3, 3, T0 + 12_000, 3, T0 + 12_000, 3, 1, 1, 0, 3]]],
      pending: [],
    };
    const b = make(v1);
    expect(b.p.snapshot()).toEqual(a.p.snapshot());
    expect(b.send(T0 + 2000, 9).accepted).toBe(0);
  });

  it('refuses malformed run markers', () => {
    const a = make();
    feed(a.send);
    const snap = roundTrip(a.p);
    const bad = (seen: number[]) => ({ ...snap, sensors: snap.sensors.map((s, i) => (i === 0 ? [s[0], s[1], s[2], s[3], seen, s[5], s[6]] : s)) }) as PipelineSnapshot;
    for (const seen of [[T0, -2, 100], [T0, -5], [T0, -5, -1], [T0, 0], [T0, -3.5, 100]]) expect(() => make(bad(seen))).toThrow(PipelineSnapshotError);
  });
});

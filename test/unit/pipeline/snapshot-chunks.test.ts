import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pipeline } from '../../../gateway/pipeline/pipeline.js';
import { chunkOf, chunkSpan, phaseOf } from '../../../gateway/pipeline/retained-chunks.js';
import { restoreSnapshot, takeSnapshot } from '../../../gateway/pipeline/snapshot.js';
import type { DeviceMessage, PipelineSettings } from '../../../gateway/pipeline/types.js';
import { batchRows, type RowBatch } from '../../../gateway/persist/rows.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { runPipelineSegments, savePipelineRows, segmentOf } from '../../support/delta-segments.js';

/**
 * The retained windows of an incremental checkpoint in chunks (pipeline/retained-chunks.ts, snapshot-rows.ts):
 * with late data correcting retained windows, evictions, windows retained before newer ones, captures stepped
 * while the state changes, failed saves and restarts, the rows always restore the exact state (byte for byte:
 * the retained records are compared as the whole snapshot writes them); and a checkpoint writes the chunks that
 * changed, not every retained window.
 */

const T = 1_699_999_200_000;
const INTERVAL = 1000;

const canonical = (snap: Uint8Array, interval = INTERVAL) => {
  const { devices, pending } = restoreSnapshot(Buffer.from(snap), interval);
  return takeSnapshot(interval, new Map([...devices].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), pending);
};

const message = fc.record({
  device: fc.constantFrom('d0', 'd1', 'd2'),
  // Mostly near the newest event time, sometimes far back (corrections of retained windows, or late).
  back: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: -300, max: 300 }) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: 12_000 }) }),
  sensors: fc.uniqueArray(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 2 }),
  value: fc.oneof(fc.integer({ min: -40, max: 40 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })),
});
type Msg = typeof message extends fc.Arbitrary<infer M> ? M : never;
const op = fc.oneof(
  { weight: 8, arbitrary: message.map((m) => ({ msg: m })) },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 4000 }).map((t) => ({ advance: t })) },
  { weight: 1, arbitrary: fc.nat(3000).map((t) => ({ tick: t })) },
);
const segment = segmentOf(op, 16);

describe('retained windows in chunks (incremental checkpoints)', () => {
  it('deltas restore the exact state after corrections, evictions, failed saves and restarts, for any chunk size', () => {
    fc.assert(
      // A long lateness: windows closed by a tick (the gateway clock) while newer readings may still land in them.
      fc.property(
        fc.constantFrom(1, 2, 3, 8),
        fc.constantFrom(300, 4000),
        fc.array(segment, { minLength: 1, maxLength: 10 }),
        (chunkWindows, lateness, segments) => {
          const settings: PipelineSettings = {
            intervalMs: INTERVAL,
            allowedLatenessMs: lateness,
            correctionHorizonMs: 9000,
            dedupHorizonMs: 12_000,
            chunkWindows,
          };
          const store = new MemoryStateStore();
          let p = new Pipeline(settings, { window: () => {} });
          let restarts = 0;
          let clock = T;
          let newest = T;
          const apply = (o: { msg: Msg } | { tick: number } | { advance: number }) => {
            if ('tick' in o) p.tick((clock += o.tick));
            else if ('advance' in o) newest += o.advance;
            else {
              clock += 100;
              newest += 150;
              const m: DeviceMessage = {
                device: o.msg.device,
                ts: newest - o.msg.back,
                tsFromDevice: true,
                seq: undefined,
                readings: o.msg.sensors.map((sensor, i) => ({ sensor, value: o.msg.value + i })),
              };
              p.ingest(m, clock);
            }
          };
          runPipelineSegments(segments, store, {
            apply,
            pipeline: () => p,
            check: (saved, atStart) => expect(canonical(saved)).toEqual(canonical(atStart)),
            // Every other restart restores as from the store's rows (its next delta is incremental), the rest whole.
            restart: (saved) => (p = new Pipeline(settings, { window: () => {} }, saved, ++restarts % 2 === 1)),
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  /** One device, one sensor at 1 Hz with 10 s windows and a 15m correction horizon: 90 retained windows. */
  const steady = () => {
    const settings: PipelineSettings = { intervalMs: 10_000, allowedLatenessMs: 5000, correctionHorizonMs: 900_000, dedupHorizonMs: 900_000 };
    const p = new Pipeline(settings, { window: () => {} });
    let t = 1_700_000_000_000;
    const feed = (seconds: number, value = (i: number) => 20 + (i % 7) / 10) => {
      for (let i = 0; i < seconds; i++, t += 1000)
        p.ingest({ device: 'dev', ts: t, tsFromDevice: true, seq: undefined, readings: [{ sensor: 'temp', value: value(i) }] }, t);
    };
    return { p, feed, settings, at: () => t };
  };
  const sizes = (b: RowBatch) => [...batchRows(b)].map(([key, value]) => ({ key, chunk: key.includes('\u0000'), bytes: value.length }));

  it('a checkpoint of a steady sensor writes its device row and at most the one chunk its tail left, not its 90 retained windows', () => {
    const { p, feed } = steady();
    feed(1200); // 20 minutes: the horizon is full
    const store = new MemoryStateStore();
    const save = (rows: RowBatch, full: boolean) => savePipelineRows(store, p, rows, full);
    const first = p.beginDelta();
    const full = first.finish();
    save(full, true);
    const all = sizes(full);
    const wholeBytes = all.reduce((n, r) => n + r.bytes, 0);
    // 90 retained windows: about 11 chunks of 8 before the tail.
    expect(all.filter((r) => r.chunk).length).toBeGreaterThanOrEqual(10);
    const written: { rows: number; bytes: number; chunks: number; deletes: number }[] = [];
    for (let k = 0; k < 40; k++) {
      feed(5); // a 5 s checkpoint interval
      const d = p.beginDelta();
      const rows = d.finish();
      save(rows, false);
      const r = sizes(rows);
      written.push({
        rows: r.length,
        bytes: r.reduce((n, x) => n + x.bytes, 0),
        chunks: r.filter((x) => x.chunk && x.bytes > 0).length,
        deletes: r.filter((x) => x.bytes === 0).length,
      });
      expect(canonical(store.load()!.pipeline, 10_000)).toEqual(canonical(p.snapshot(), 10_000));
    }
    // Every checkpoint: the device row; a chunk row when the tail moved on (once per 8 windows = 80 s), a delete
    // when eviction emptied the oldest chunk.
    for (const w of written) {
      expect(w.chunks).toBeLessThanOrEqual(1);
      expect(w.deletes).toBeLessThanOrEqual(1);
      expect(w.bytes).toBeLessThan(wholeBytes / 3);
    }
    // Over 200 s: 20 windows closed, two or three chunks written and as many deleted.
    const chunks = written.reduce((n, w) => n + w.chunks, 0);
    const deletes = written.reduce((n, w) => n + w.deletes, 0);
    expect(chunks).toBeGreaterThanOrEqual(2);
    expect(chunks).toBeLessThanOrEqual(3);
    expect(deletes).toBeGreaterThanOrEqual(2);
    expect(deletes).toBeLessThanOrEqual(3);
    const mean = written.reduce((n, w) => n + w.bytes, 0) / written.length;
    expect(mean).toBeLessThan(wholeBytes / 8);
  });

  it('a late reading correcting an old retained window rewrites that chunk only', () => {
    const { p, feed, at } = steady();
    feed(1200);
    p.beginDelta().finish();
    feed(3);
    p.beginDelta().finish();
    // A reading 10 minutes back: its window is retained (60 windows back), corrected and emitted again at once.
    const late = at() - 600_000;
    p.ingest({ device: 'dev', ts: late + 500, tsFromDevice: true, seq: undefined, readings: [{ sensor: 'temp', value: 99 }] }, at());
    const rows = sizes(p.beginDelta().finish());
    const chunkRows = rows.filter((r) => r.chunk);
    expect(chunkRows).toHaveLength(1);
    expect(chunkRows[0]!.bytes).toBeGreaterThan(0);
    // The chunk holding that window (8 windows of 10 s, shifted by the sensor's phase).
    const start = late - (late % 10_000);
    expect(chunkRows[0]!.key).toBe(`dev\u0000${chunkOf({ chunkPhase: phaseOf('dev') }, start, chunkSpan(10_000))}`);
  });

  it('a retained window taken out by a reading and still open at the checkpoint leaves its chunk', () => {
    // Windows closed by the gateway clock (tick) before the event time passed them: a reading may reopen one.
    const settings: PipelineSettings = { intervalMs: 1000, allowedLatenessMs: 5000, correctionHorizonMs: 10_000, dedupHorizonMs: 10_000, chunkWindows: 1 };
    const p = new Pipeline(settings, { window: () => {} });
    const store = new MemoryStateStore();
    const save = (rows: RowBatch, full: boolean) => savePipelineRows(store, p, rows, full);
    const read = (ts: number, at: number, value: number) =>
      p.ingest({ device: 'd', ts, tsFromDevice: true, seq: undefined, readings: [{ sensor: 'a', value }] }, at);
    // Four windows closed by ticks: [T, T + 1000) ... [T + 3000, T + 4000); one chunk each, the last the tail.
    let now = T;
    for (let k = 0; k < 4; k++) {
      read(T + k * 1000 + 100, now, k);
      p.tick((now += 6001));
    }
    save(p.beginDelta().finish(), true);
    // Reopens [T + 1000, T + 2000): open, not retained; the record after it is written again (relative to T).
    read(T + 1200, now + 1, 9);
    const delta = p.beginDelta().finish();
    const chunkRows = sizes(delta).filter((r) => r.chunk);
    expect(chunkRows.find((r) => r.key === `d\u0000${Math.floor(T / 1000) + 1}`)?.bytes).toBe(0);
    expect(chunkRows.find((r) => r.key === `d\u0000${Math.floor(T / 1000) + 2}`)?.bytes).toBeGreaterThan(0);
    save(delta, false);
    expect(canonical(store.load()!.pipeline)).toEqual(canonical(p.snapshot()));
  });

  it("restored from the store's rows, the next checkpoint writes only what changed since; restored whole, every row", () => {
    const settings: PipelineSettings = { intervalMs: 10_000, allowedLatenessMs: 5000, correctionHorizonMs: 900_000, dedupHorizonMs: 900_000 };
    const first = new Pipeline(settings, { window: () => {} });
    let t = T;
    for (let i = 0; i < 120; i++, t += 1000)
      for (let d = 0; d < 10; d++)
        first.ingest({ device: `dev-${d}`, ts: t, tsFromDevice: true, seq: undefined, readings: [{ sensor: 'temp', value: d + i / 10 }] }, t);
    const store = new MemoryStateStore();
    savePipelineRows(store, first, first.beginDelta().finish(), true);
    const loaded = store.load()!;
    expect(loaded.rows).toBe(true);
    const sizes = (b: RowBatch) => [...batchRows(b)].map(([key, value]) => ({ key, bytes: value.length }));
    // A restart from the rows; one device changes (a reading in its open window).
    const p = new Pipeline(settings, { window: () => {} }, loaded.pipeline, true);
    p.ingest({ device: 'dev-3', ts: t, tsFromDevice: true, seq: undefined, readings: [{ sensor: 'temp', value: 1 }] }, t);
    const delta = p.beginDelta();
    expect(delta.full).toBe(false);
    const rows = delta.finish();
    expect(sizes(rows).map((r) => r.key)).toEqual(['dev-3']);
    savePipelineRows(store, p, rows, false);
    expect(canonical(store.load()!.pipeline, 10_000)).toEqual(canonical(p.snapshot(), 10_000));
    // The same restart from a whole snapshot: nothing says the rows match, so the first delta replaces them all.
    const whole = new Pipeline(settings, { window: () => {} }, loaded.pipeline);
    const all = whole.beginDelta();
    expect(all.full).toBe(true);
    expect(sizes(all.finish()).filter((r) => !r.key.includes('\u0000'))).toHaveLength(10);
  });

  it("spreads the sensors' chunk boundaries over the checkpoints rather than all in one", () => {
    const settings: PipelineSettings = { intervalMs: 10_000, allowedLatenessMs: 5000, correctionHorizonMs: 900_000, dedupHorizonMs: 900_000 };
    const p = new Pipeline(settings, { window: () => {} });
    let t = 1_700_000_000_000;
    const feed = (seconds: number) => {
      for (let i = 0; i < seconds; i++, t += 1000)
        for (let d = 0; d < 64; d++)
          p.ingest({ device: `dev-${d}`, ts: t, tsFromDevice: true, seq: undefined, readings: [{ sensor: 'temp', value: 21.5 }] }, t);
    };
    feed(1000);
    p.beginDelta().finish();
    const perCheckpoint: number[] = [];
    for (let k = 0; k < 32; k++) {
      feed(5);
      perCheckpoint.push(sizes(p.beginDelta().finish()).filter((r) => r.chunk && r.bytes > 0).length);
    }
    // 160 s: every sensor's tail moved on twice (8 windows of 10 s), 128 chunk rows; never all 64 at once.
    expect(perCheckpoint.reduce((a, b) => a + b, 0)).toBe(128);
    expect(Math.max(...perCheckpoint)).toBeLessThanOrEqual(24);
  });
});

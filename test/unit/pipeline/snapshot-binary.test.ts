import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pipeline, PipelineSnapshotError } from '../../../gateway/pipeline/pipeline.js';
import { restoreSnapshot, takeSnapshot } from '../../../gateway/pipeline/snapshot.js';
import { ringKeys } from '../../../gateway/pipeline/key-ring.js';
import { decodeAll, retain } from '../../../gateway/pipeline/retained.js';
import { insertSeen, NO_KEYS, NO_RUNS, type SeenKeys, seenKeys } from '../../../gateway/pipeline/seen-keys.js';
import { DeviceState, SensorState } from '../../../gateway/pipeline/state.js';
import type { DeviceMessage } from '../../../gateway/pipeline/types.js';
import { Win } from '../../../gateway/pipeline/window.js';
import { copyOf } from './snapshot-support.js';

/**
 * The pipeline snapshot (snapshot-binary.ts): random states, including ones the wire never produces (non-integer,
 * huge and negative timestamps, -0, unicode and ill-formed names), survive encode -> decode bit-exactly; a
 * truncated or damaged buffer is a PipelineSnapshotError, never another error or a wrong state.
 */
const INTERVAL = 10_000;
type State = { devices: Map<string, DeviceState>; pending: Set<SensorState> };

const anyNum = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    0.1,
    1.5,
    -2.5,
    2 ** 51 - 1,
    2 ** 51,
    -(2 ** 51),
    2 ** 53,
    -(2 ** 53) - 2,
    1e300,
    -1e300,
    5e-324,
    -5e-324,
    1_700_000_000_000,
    1_700_000_000_000.5,
  ),
);
const name = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom('温度', '\uD800', 'x\uDC00y', '😀', 'a'.repeat(70), 'é'.repeat(40)),
);
/** Strictly ascending (what dedup keys and window starts are). */
const ascending = (max: number) => fc.array(anyNum, { maxLength: max }).map((xs) => [...new Set(xs.map((x) => x + 0))].sort((a, b) => a - b));
const steady = fc
  .tuple(fc.integer({ min: -(2 ** 40), max: 2 ** 42 }), fc.integer({ min: 1, max: 5000 }), fc.nat(80))
  .map(([t0, d, n]) => Array.from({ length: n }, (_, i) => t0 + i * d));

const win = (start: number) =>
  fc
    .record({
      count: fc.integer({ min: 1, max: 2 ** 40 }),
      a: anyNum,
      b: anyNum,
      f: anyNum,
      l: anyNum,
      first: anyNum,
      last: anyNum,
      rev: fc.nat(),
      partials: fc.array(anyNum, { maxLength: 3 }),
      big: fc.option(fc.array(anyNum, { minLength: 1, maxLength: 2 })),
    })
    .map((r) => {
      const w = new Win(start, r.rev);
      Object.assign(w, {
        count: r.count,
        min: Math.min(r.a, r.b),
        max: Math.max(r.a, r.b),
        firstTs: Math.min(r.f, r.l),
        first: r.first,
        lastTs: Math.max(r.f, r.l),
        last: r.last,
        partials: r.partials,
        big: r.big,
      });
      return w;
    });
const wins = ascending(4).chain((starts) => (starts.length === 0 ? fc.constant([] as Win[]) : fc.tuple(...starts.map(win))));

const sensor = fc.record({ name, maxTs: anyNum, lastArrival: anyNum, seen: fc.oneof(ascending(12), steady), open: wins, sealed: wins, head: fc.nat(3) });
const device = fc.record({
  name,
  seqs: fc.option(fc.record({ max: anyNum, pairs: fc.uniqueArray(fc.tuple(anyNum, anyNum), { selector: ([s]) => s, maxLength: 6 }) })),
  sensors: fc.uniqueArray(sensor, { selector: (s) => s.name, maxLength: 4 }),
});
const stateArb = fc
  .tuple(fc.uniqueArray(device, { selector: (d) => d.name, maxLength: 5 }), fc.array(fc.double({ noNaN: true })))
  .map(([devs, order]): State => {
    const devices = new Map<string, DeviceState>();
    const withOpen: SensorState[] = [];
    for (const dv of devs) {
      const d = new DeviceState(dv.name);
      if (dv.seqs !== null) {
        d.seqMaxTs = dv.seqs.max;
        d.seqs = new Map(dv.seqs.pairs);
      }
      for (const sv of dv.sensors) {
        const s = new SensorState(d.name, sv.name);
        Object.assign(s, { maxTs: sv.maxTs, lastArrival: sv.lastArrival, open: sv.open });
        // The keys as inserted in order (steady ones become runs, seen-keys.ts); the key ring turned by `head`
        // slots, with `head` spare ones holding stale values: neither is part of the state.
        const keys: SeenKeys = { runs: NO_RUNS, seen: NO_KEYS, seenHead: 0, seenCount: 0 };
        for (const x of sv.seen) insertSeen(keys, x);
        s.runs = keys.runs;
        const ring = ringKeys(keys);
        const cap = ring.length + sv.head;
        s.seen = Array<number>(cap).fill(-7);
        ring.forEach((x, i) => (s.seen[(sv.head + i) % cap] = x));
        s.seenHead = cap === 0 ? 0 : sv.head % cap;
        s.seenCount = ring.length;
        for (const w of sv.sealed) retain(s, w, INTERVAL);
        d.sensors.set(s.sensor, s);
        if (s.open.length > 0) withOpen.push(s);
      }
      devices.set(d.name, d);
    }
    const pending = new Set(
      withOpen
        .map((s, i) => [s, order[i] ?? i] as const)
        .sort((a, b) => a[1] - b[1])
        .map(([s]) => s),
    );
    return { devices, pending };
  });

/** Everything restore must bring back, with -0 kept apart from 0. */
const num = (x: number) => (Object.is(x, -0) ? '-0' : x);
const describeWin = (w: Win) =>
  [w.start, w.count, w.min, w.max, w.firstTs, w.first, w.lastTs, w.last, w.rev, ...w.partials, '|', ...(w.big ?? [])].map((x) =>
    typeof x === 'number' ? num(x) : x,
  );
function describeState({ devices, pending }: State) {
  return {
    devices: [...devices.values()].map((d) => ({
      name: d.name,
      seqMaxTs: d.seqs === null ? null : num(d.seqMaxTs),
      seqs: d.seqs === null ? null : [...d.seqs].map(([k, v]) => [num(k), num(v)]),
      sensors: [...d.sensors.values()].map((s) => ({
        device: s.device,
        sensor: s.sensor,
        maxTs: num(s.maxTs),
        lastArrival: num(s.lastArrival),
        seen: seenKeys(s).map(num),
        runs: s.runs.map(num),
        open: s.open.map(describeWin),
        sealed: decodeAll(s, INTERVAL).map(describeWin),
        sealedCount: s.sealedCount,
        sealedFirstStart: s.sealedFirstStart,
        sealedMaxStart: s.sealedMaxStart,
      })),
    })),
    pending: [...pending].map((s) => `${s.device}\u0000${s.sensor}`),
  };
}

const encode = (s: State) => takeSnapshot(INTERVAL, s.devices, s.pending);
const withCrc = (b: Buffer) => {
  b.writeUInt32LE(crc32(b.subarray(0, b.length - 4)), b.length - 4);
  return b;
};

describe('pipeline snapshot', () => {
  it('writes the bytes of this layout (dedup keys as runs and a ring, retained windows as byte records)', () => {
    // In-order, out-of-order, duplicate, late and non-integer keys (runs, DELTA and PLAIN lists), with evictions
    // that trim runs and wrap the ring around. The layout changed in place when the keys became runs and the
    // retained windows byte records (version 1, nothing released yet); these bytes are that layout's.
    const p = new Pipeline({ intervalMs: 1000, allowedLatenessMs: 500, correctionHorizonMs: 3000, dedupHorizonMs: 5000 }, { window: () => {} });
    const T0 = 1_700_000_000_000;
    const feed: Array<[string, number]> = [];
    for (let i = 0; i < 40; i++) feed.push(['steady', T0 + i * 250]);
    for (const dt of [0, 1000, 3000, 2000, 2500, 1000, 4000, 3500, 9000, 8000, 8000.5, 6000, 7999.25]) feed.push(['late', T0 + dt]);
    for (let i = 0; i < 12; i++) feed.push(['frac', T0 + i * 333.5]);
    for (const [sensor, ts] of feed) p.ingest({ device: 'd', ts, tsFromDevice: true, seq: undefined, readings: [{ sensor, value: ts % 7 }] }, ts);
    const fixture = [
      'R1dQUwGgHwECZAADDHN0ZWFkedjw2PzzxQHY8Nj888UBAbjU1/zzxQHoBxUAAQEBoNnY/PPFARAAGAAYuBcAAAEAMAPA+9f888UB',
      'JQEEIAAUCAwAuBcBACgJBCAEGAgAuBcBADQJBCAAFAQAuBcBACQIbGF0ZaDZ2PzzxQEBAPRzWP68eEIABgGAvdf888UBwD4BAAAA',
      'AAA9n0ABAAAAAAAA6D8BAAAAAAAA4D8BAAAAAAA8j0ACAYC62PzzxQEIAAEAAAAAAADgPwAAAQAAAAAAAOA/AQAAAAAAAOA/AAEA',
      'AQAAAAAAAOA/oB8EGBgAGAAYAAEAGALA+9f888UBKy7A+9f888UBASAIAAABAAgtATLEEwEAAAAAADqPQAEAAAAAADqPQAEAxBMI',
      'ZnJhYwEASGVX/rx4QgEASGVX/rx4QgAMAYDA1vzzxQEqAQAAAAAA2HRAAQHgndf888UBDAEAAAAAAAD4PwEAAAAAAAAaQAEAAAAA',
      'AAD4PwEAAAAAAAAaQAEAAAAAAOSEQAEAAAAAAAD4PwABADADgMDW/PPFAUAKgMDW/PPFAQMxKNwBeADsFAEA/AIJAzEUyAFkAQAA',
      'AAAAAOA/AQAAAAAA3IRAAQDAAgkDMQC0AVAE8BQBAIQCAwJkDHN0ZWFkeQJkCGxhdGUCZAhmcmFjNoMuAg==',
    ].join('');
    const expected = fixture;
    expect(p.stats()).toEqual({ sensors: 3, openWindows: 4, retainedWindows: 8, dedupKeys: 39 });
    expect(p.snapshot().toString('base64')).toBe(expected);
    const again = new Pipeline(
      { intervalMs: 1000, allowedLatenessMs: 500, correctionHorizonMs: 3000, dedupHorizonMs: 5000 },
      { window: () => {} },
      Buffer.from(expected, 'base64'),
    );
    expect(again.snapshot().toString('base64')).toBe(expected);
  });

  it('round-trips any state bit-exactly, and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        const bytes = encode(state);
        const back = restoreSnapshot(copyOf(bytes), INTERVAL);
        expect(describeState(back)).toEqual(describeState(state));
        expect(encode(back).equals(bytes)).toBe(true);
        // A Uint8Array that is not a Buffer (and not at offset 0 of its memory) reads the same.
        const inner = new Uint8Array(bytes.length + 3);
        inner.set(bytes, 3);
        expect(describeState(restoreSnapshot(inner.subarray(3), INTERVAL))).toEqual(describeState(state));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses every truncation and every single damaged byte', () => {
    fc.assert(
      fc.property(stateArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (state, at, xor) => {
        const bytes = encode(state);
        expect(() => restoreSnapshot(bytes.subarray(0, at % bytes.length), INTERVAL)).toThrow(PipelineSnapshotError);
        const bad = copyOf(bytes);
        bad[at % bad.length]! ^= xor;
        expect(() => restoreSnapshot(bad, INTERVAL)).toThrow(PipelineSnapshotError);
      }),
      { numRuns: 300 },
    );
  });

  it('with a valid checksum, damaged content is refused with PipelineSnapshotError or restores to a consistent state', () => {
    fc.assert(
      fc.property(stateArb, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), (state, edits) => {
        const bad = copyOf(encode(state));
        for (const [at, v] of edits) bad[at % (bad.length - 4)] = v;
        let back: State;
        try {
          back = restoreSnapshot(withCrc(bad), INTERVAL);
        } catch (err) {
          expect(err).toBeInstanceOf(PipelineSnapshotError);
          return;
        }
        // Whatever was accepted is a state the pipeline can hold: it encodes and restores again unchanged.
        expect(describeState(restoreSnapshot(encode(back), INTERVAL))).toEqual(describeState(back));
        for (const s of back.pending) expect(s.open.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses another interval, another magic or version, trailing bytes and non-snapshots', () => {
    const p = new Pipeline({ intervalMs: INTERVAL, allowedLatenessMs: 0, correctionHorizonMs: 60_000, dedupHorizonMs: 60_000 }, { window: () => {} });
    for (let i = 0; i < 50; i++)
      p.ingest(
        { device: 'd', ts: 1_700_000_000_000 + i * 1000, tsFromDevice: true, seq: undefined, readings: [{ sensor: 's', value: i / 10 }] } as DeviceMessage,
        0,
      );
    const bytes = p.snapshot();
    expect(() => restoreSnapshot(bytes, 60_000)).toThrow(/interval/);
    const reject = (b: Buffer, why: RegExp) => expect(() => restoreSnapshot(withCrc(b), INTERVAL)).toThrow(why);
    const magic = copyOf(bytes);
    magic[0] = 0x41;
    reject(magic, /not a binary pipeline snapshot/);
    const version = copyOf(bytes);
    version[4] = 4;
    reject(version, /unknown version 4/);
    reject(Buffer.concat([bytes.subarray(0, bytes.length - 4), Buffer.from([0, 0, 0, 0, 0])]), /trailing bytes/);
    for (const junk of [Buffer.alloc(0), Buffer.from('{"version":3}'), null, 42, 'GWPS']) {
      expect(() => restoreSnapshot(junk as unknown as Buffer, INTERVAL)).toThrow(PipelineSnapshotError);
    }
  });

  it('a steady sensor takes a few bytes whatever its number of keys', () => {
    const sizeWith = (keys: number) => {
      const p = new Pipeline({ intervalMs: INTERVAL, allowedLatenessMs: 0, correctionHorizonMs: 0, dedupHorizonMs: 3_600_000 }, { window: () => {} });
      for (let i = 0; i < keys; i++)
        p.ingest(
          { device: 'd', ts: 1_700_000_000_000 + i * 1000, tsFromDevice: true, seq: undefined, readings: [{ sensor: 's', value: 1 }] } as DeviceMessage,
          0,
        );
      expect(p.stats().dedupKeys).toBe(keys);
      return p.snapshot().length;
    };
    expect(sizeWith(3000) - sizeWith(30)).toBeLessThan(16); // a few varints grow by a byte
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeAll, evictRetained, NO_RECORDS, retain, takeRetained } from '../../../gateway/pipeline/retained.js';
import { chunkSpan, tailOf, type ChunkSpan } from '../../../gateway/pipeline/retained-chunks.js';
import { SensorState } from '../../../gateway/pipeline/state.js';
import { Win } from '../../../gateway/pipeline/window.js';

/**
 * Retained windows as byte records (retained.ts, window-record.ts) against a model, an array of the windows
 * sorted by start: any sequence of retains (newest, or landing before newer ones), takes and evictions gives
 * back the model's windows with every field bit for bit (-0, huge, subnormal and non-integer values, ts far from
 * the start), so a correction continues exactly where the window was. With chunks (retained-chunks.ts) the
 * sensor's tail offset, which a search for a correction starts from, is after every step either unknown or the
 * one a fresh walk of the heads finds.
 */
const INTERVAL = 10_000;
const T0 = 1_700_000_000_000;
const anyNum = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.tuple(fc.integer({ min: -100_000, max: 100_000 }), fc.constantFrom(10, 100, 1000, 1e8, 1e9)).map(([m, p]) => m / p),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 0.1, 21.37, 2 ** 53, 1e300, -1e300, 5e-324, T0 + 0.5),
);
const winAt = (slot: number) =>
  fc
    .record({
      count: fc.integer({ min: 1, max: 2 ** 40 }),
      a: anyNum,
      b: anyNum,
      same: fc.constantFrom('none', 'min-max', 'first-min', 'last-max', 'all'),
      first: anyNum,
      last: anyNum,
      f: fc.oneof(fc.integer({ min: 0, max: INTERVAL - 1 }), anyNum),
      l: fc.oneof(fc.integer({ min: 0, max: INTERVAL - 1 }), anyNum),
      rev: fc.integer({ min: 1, max: 2 ** 31 }),
      partials: fc.array(anyNum, { maxLength: 3 }),
      big: fc.option(fc.array(anyNum, { minLength: 1, maxLength: 2 })),
      odd: fc.constantFrom(0, 0, 0, 0.5, 2 ** 60),
    })
    .map((r) => {
      const start = T0 + slot * INTERVAL + r.odd;
      const w = new Win(start, r.rev);
      const min = Math.min(r.a, r.b);
      const max = r.same === 'min-max' || r.same === 'all' ? min : Math.max(r.a, r.b);
      const inside = (x: number) => (Math.abs(x) < INTERVAL ? start + x : x);
      Object.assign(w, {
        count: r.count,
        min,
        max,
        first: r.same === 'first-min' || r.same === 'all' ? min : r.first,
        last: r.same === 'last-max' || r.same === 'all' ? max : r.last,
        firstTs: Math.min(inside(r.f), inside(r.l)),
        lastTs: Math.max(inside(r.f), inside(r.l)),
        partials: r.partials,
        big: r.big,
      });
      return w;
    });

type Op = { kind: 'retain'; w: Win } | { kind: 'take'; slot: number } | { kind: 'evict'; slot: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 40 }).chain((slot) => winAt(slot).map((w) => ({ kind: 'retain' as const, w }))) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 40 }).map((slot) => ({ kind: 'take' as const, slot })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 40 }).map((slot) => ({ kind: 'evict' as const, slot })) },
);

const num = (x: number) => (Object.is(x, -0) ? '-0' : x);
const fields = (w: Win) =>
  [w.start, w.count, w.min, w.max, w.firstTs, w.first, w.lastTs, w.last, w.rev, ...w.partials, '|', ...(w.big ?? [])].map((x) =>
    typeof x === 'number' ? num(x) : x,
  );
const copy = (w: Win) => Object.assign(new Win(w.start, w.rev), w, { partials: w.partials.slice(), big: w.big?.slice() ?? null });

describe('retained windows as byte records', () => {
  it('agree with a sorted array of windows on every retain, take and eviction, bit for bit', () => {
    fc.assert(
      fc.property(fc.option(fc.constantFrom(1, 2, 3, 8)), fc.array(op, { maxLength: 40 }), (windows, ops) => {
        const s = new SensorState('d', 's');
        const span: ChunkSpan | undefined = windows === null ? undefined : chunkSpan(INTERVAL, windows);
        let m: Win[] = [];
        for (const o of ops) {
          if (o.kind === 'retain') {
            if (m.some((x) => x.start === o.w.start)) continue; // the pipeline never retains a start twice
            retain(s, copy(o.w), INTERVAL, span);
            m.push(o.w);
            m.sort((a, b) => a.start - b.start);
          } else if (o.kind === 'take') {
            const start = m.find((x) => x.start >= T0 + o.slot * INTERVAL)?.start ?? T0 + o.slot * INTERVAL;
            const got = takeRetained(s, start, INTERVAL, span);
            const at = m.findIndex((x) => x.start === start);
            expect(got === undefined ? undefined : fields(got)).toEqual(at < 0 ? undefined : fields(m[at]!));
            if (at >= 0) m.splice(at, 1);
          } else {
            const limit = T0 + o.slot * INTERVAL;
            const keep = m.filter((x) => x.start + INTERVAL > limit);
            expect(evictRetained(s, limit, INTERVAL, span)).toBe(m.length - keep.length);
            m = keep;
          }
          expect(s.sealedCount).toBe(m.length);
          expect(s.sealedMaxStart).toBe(m.at(-1)?.start ?? -Infinity);
          expect(s.sealedFirstStart).toBe(m[0]?.start ?? -Infinity);
          if (span !== undefined && s.tailAt >= 0) {
            const kept = [s.tailAt, s.tailStart];
            s.tailAt = -1;
            tailOf(s, span, INTERVAL);
            expect([s.tailAt, s.tailStart]).toEqual(kept);
          }
        }
        expect(decodeAll(s, INTERVAL).map(fields)).toEqual(m.map(fields));
        if (m.length === 0) expect(s.sealed).toBe(NO_RECORDS);
        expect(NO_RECORDS.length).toBe(0);
      }),
      { numRuns: 400 },
    );
  });

  it('a steady window of integer values takes a few bytes; 90 of them fit in under 2 KB', () => {
    const s = new SensorState('d', 's');
    for (let k = 0; k < 200; k++) {
      const w = new Win(T0 + k * INTERVAL, 0);
      for (let i = 0; i < 10; i++) w.add(T0 + k * INTERVAL + i * 1000, k * 10 + i);
      w.rev = 1;
      retain(s, w, INTERVAL);
      evictRetained(s, T0 + (k - 90) * INTERVAL + INTERVAL, INTERVAL);
    }
    expect(s.sealedCount).toBe(90);
    expect(s.sealedBytes).toBeLessThanOrEqual(90 * 16);
    expect(s.sealed.length).toBeLessThan(2048);
    const back = decodeAll(s, INTERVAL);
    expect(back[0]!.start).toBe(T0 + 110 * INTERVAL);
    expect(fields(back[89]!)).toEqual([T0 + 199 * INTERVAL, 10, 1990, 1999, T0 + 199 * INTERVAL, 1990, T0 + 199 * INTERVAL + 9000, 1999, 1, 19945, '|']);
  });

  it('values with two decimals are written as decimals, and come back as the same doubles', () => {
    const s = new SensorState('d', 's');
    const w = new Win(T0, 0);
    for (const [i, v] of [21.37, 20.01, 22.99, 21.5].entries()) w.add(T0 + i * 1000, v);
    w.rev = 1;
    retain(s, w, INTERVAL);
    expect(fields(decodeAll(s, INTERVAL)[0]!)).toEqual(fields(w));
    // flags, start, count, rev, min, max, first, last (2-3 bytes each), ts offsets, partial counts, partials.
    expect(s.sealedBytes).toBeLessThan(1 + 9 + 1 + 1 + 4 * 3 + 1 + 3 + 2 + w.partials.length * 9);
  });
});

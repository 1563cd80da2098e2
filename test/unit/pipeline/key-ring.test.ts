import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ringEvict, ringInsert, loadRing, NO_KEYS, type KeyRing, ringAt, ringKeys, ringSize, ringSlot } from '../../../gateway/pipeline/key-ring.js';
import { modelEvict, modelInsert } from './sorted-model.js';

/**
 * The dedup key ring (key-ring.ts) against a model, a sorted array: any sequence of in-order, out-of-order and
 * duplicate inserts and evictions gives the same answers and the same keys, whatever the ring's wrap-around,
 * growth and shrinking; and its capacity stays close to the number of keys.
 */
const empty = (): KeyRing => ({ seen: NO_KEYS, seenHead: 0, seenCount: 0 });

type Op = { kind: 'insert'; ts: number } | { kind: 'evict'; cutoff: number };

/** Keys from a small pool (so duplicates are frequent), non-integers and -0 included, drifting upwards. */
const key = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -20, max: 200 }) },
  { weight: 2, arbitrary: fc.integer({ min: -40, max: 400 }).map((x) => x / 4) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 1e-300, -1e-300, 2 ** 53, -(2 ** 53), 1_700_000_000_000.5) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: key.map((ts) => ({ kind: 'insert' as const, ts })) },
  { weight: 1, arbitrary: key.map((cutoff) => ({ kind: 'evict' as const, cutoff })) },
);
/** A run of in-order keys then an eviction window sliding behind them, as a steady sensor makes. */
const slide = fc.tuple(fc.integer({ min: -50, max: 50 }), fc.integer({ min: 1, max: 150 }), fc.integer({ min: 0, max: 40 })).map(([t0, n, horizon]) => {
  const ops: Op[] = [];
  for (let i = 0; i < n; i++) ops.push({ kind: 'insert', ts: t0 + i }, { kind: 'evict', cutoff: t0 + i - horizon });
  return ops;
});
const program = fc
  .array(
    fc.oneof(
      op.map((o) => [o]),
      slide,
    ),
    { maxLength: 30 },
  )
  .map((xs) => xs.flat());

describe('dedup key ring', () => {
  it('agrees with a sorted array on every insert, duplicate and eviction', () => {
    fc.assert(
      fc.property(program, (ops) => {
        const s = empty();
        const m: number[] = [];
        // Plain comparisons per step (expect() per step made this test 3x slower); details on the first mismatch.
        ops.forEach((o, step) => {
          const got = o.kind === 'insert' ? ringInsert(s, o.ts) : ringEvict(s, o.cutoff);
          const want = o.kind === 'insert' ? modelInsert(m, o.ts) : modelEvict(m, o.cutoff);
          const ringOk = s.seenHead >= 0 && (s.seenHead < s.seen.length || s.seen.length === 0) && s.seen.length >= m.length;
          if (got !== want || ringSize(s) !== m.length || !ringOk) {
            expect({ step, o, got, size: ringSize(s), head: s.seenHead, cap: s.seen.length }).toEqual({
              step,
              o,
              got: want,
              size: m.length,
              head: s.seenHead,
              cap: s.seen.length,
            });
            expect(ringOk).toBe(true);
          }
        });
        expect(ringKeys(s)).toEqual(m);
        for (let i = 0; i < m.length; i++) {
          expect(Object.is(ringAt(s, i), m[i])).toBe(true);
          expect(Object.is(s.seen[ringSlot(s, i)], m[i])).toBe(true);
        }
        expect(NO_KEYS).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('after an eviction, holds at most half the keys + 8 slots of slack', () => {
    fc.assert(
      fc.property(program, (ops) => {
        const s = empty();
        for (const o of ops) {
          if (o.kind === 'insert') ringInsert(s, o.ts);
          else if (ringEvict(s, o.cutoff) > 0) expect(s.seen.length).toBeLessThanOrEqual(ringSize(s) + (ringSize(s) >> 1) + 8);
        }
      }),
    );
  });

  it('a steady sensor (1 Hz, 1m horizon) settles at ~62 keys in a ring of at most 62 + 1/8 + 4 slots, wrapping around', () => {
    const s = empty();
    let wrapped = false;
    for (let t = 0; t < 10_000; t++) {
      const ts = 1_700_000_000_000 + t * 1000;
      expect(ringInsert(s, ts)).toBe(true);
      ringEvict(s, ts - 60_000);
      if (t > 100 && s.seenHead + ringSize(s) > s.seen.length) wrapped = true;
    }
    expect(ringSize(s)).toBe(61);
    expect(s.seen.length).toBeLessThanOrEqual(62 + (62 >> 3) + 4);
    expect(wrapped).toBe(true);
    expect(ringAt(s, 0)).toBe(1_700_000_000_000 + 9_939_000);
  });

  it('shrinks when the rate drops, and grows again', () => {
    const s = empty();
    for (let t = 0; t < 1000; t++) ringInsert(s, t);
    expect(s.seen.length).toBeGreaterThanOrEqual(1000);
    for (let t = 1000; t < 1100; t += 10) {
      ringInsert(s, t);
      ringEvict(s, t - 100);
    }
    expect(ringSize(s)).toBe(20); // 990..999, then every 10th
    expect(s.seen.length).toBeLessThanOrEqual(20 + (20 >> 1) + 8);
    for (let t = 1100; t < 1500; t++) ringInsert(s, t + 0.5);
    expect(ringSize(s)).toBe(420);
    expect(ringKeys(s).slice(8, 22)).toEqual([998, 999, 1000, 1010, 1020, 1030, 1040, 1050, 1060, 1070, 1080, 1090, 1100.5, 1101.5]);
  });

  it('out-of-order keys land in place across the wrap-around; a repeat of any key is a duplicate', () => {
    const s = empty();
    for (let t = 0; t < 40; t++) {
      ringInsert(s, t * 10);
      ringEvict(s, t * 10 - 100);
    }
    expect(s.seenHead).toBeGreaterThan(0); // keys wrap around the ring's end
    for (const ts of [395, 295, 301, 389.5]) expect(ringInsert(s, ts)).toBe(true);
    for (const ts of [300, 390, 395, 295]) expect(ringInsert(s, ts)).toBe(false);
    expect(ringKeys(s)).toEqual([290, 295, 300, 301, 310, 320, 330, 340, 350, 360, 370, 380, 389.5, 390, 395]);
    expect(ringInsert(s, 289)).toBe(true); // before all of them
    expect(ringAt(s, 0)).toBe(289);
  });

  it('loadRing takes ascending keys, with room to grow', () => {
    const s = empty();
    loadRing(s, [1, 2.5, 4]);
    expect(ringKeys(s)).toEqual([1, 2.5, 4]);
    expect(s.seen.length).toBeGreaterThan(3);
    expect(ringInsert(s, 2.5)).toBe(false);
    expect(ringInsert(s, 3)).toBe(true);
    expect(ringKeys(s)).toEqual([1, 2.5, 3, 4]);
    loadRing(s, []);
    expect(s.seen).toBe(NO_KEYS);
    expect(ringInsert(s, 7)).toBe(true);
    expect(NO_KEYS).toEqual([]);
  });
});

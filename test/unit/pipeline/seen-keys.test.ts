import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ringSize } from '../../../gateway/pipeline/key-ring.js';
import { evictSeen, hasSeen, insertSeen, loadSeen, NO_KEYS, NO_RUNS, type SeenKeys, seenKeys, seenSize } from '../../../gateway/pipeline/seen-keys.js';
import { modelEvict, modelInsert } from './sorted-model.js';

/**
 * Dedup keys as runs plus a ring (seen-keys.ts) against a model, a sorted array: every insert (in order, out of
 * order, into the middle of a run, duplicate), membership query and eviction gives the model's answer, and the
 * keys held are the model's, bit for bit. Timestamps as sensors send them: a regular cadence in epoch ms with
 * gaps, jitter, late and repeated readings, and non-integer ms, -0 and huge values the wire never carries.
 */
const empty = (): SeenKeys => ({ runs: NO_RUNS, seen: NO_KEYS, seenHead: 0, seenCount: 0 });

type Op = { kind: 'insert'; ts: number } | { kind: 'evict'; cutoff: number } | { kind: 'has'; ts: number };

const T0 = 1_700_000_000_000;
/** A sensor's stream: n readings every `step` ms, each perhaps dropped, jittered, repeated, late or fractional. */
const stream = fc
  .tuple(
    fc.integer({ min: -3, max: 3 }).map((k) => T0 + k * 7),
    fc.constantFrom(1, 2, 250, 1000),
    fc.array(
      fc.record({
        fate: fc.constantFrom('in-order', 'in-order', 'in-order', 'in-order', 'gap', 'jitter', 'repeat', 'late', 'fraction', 'between'),
        by: fc.integer({ min: 1, max: 6 }),
      }),
      { maxLength: 60 },
    ),
    fc.integer({ min: 0, max: 40 }),
  )
  .map(([t0, step, fates, horizon]) => {
    const ops: Op[] = [];
    let i = 0;
    for (const { fate, by } of fates) {
      const ts = t0 + i * step;
      if (fate === 'gap') i += by;
      else if (fate === 'jitter') ops.push({ kind: 'insert', ts: ts + (by % 2 === 0 ? by : -by) });
      else if (fate === 'repeat') ops.push({ kind: 'insert', ts: t0 + Math.max(0, i - by) * step });
      else if (fate === 'late') ops.push({ kind: 'insert', ts: t0 + (i + by * 3) * step }, { kind: 'insert', ts });
      else if (fate === 'fraction') ops.push({ kind: 'insert', ts: ts + by / 4 });
      else if (fate === 'between') ops.push({ kind: 'insert', ts: t0 + Math.max(0, i - by) * step + (step > 1 ? step / 2 : 0.5) });
      else ops.push({ kind: 'insert', ts });
      ops.push({ kind: 'has', ts: t0 + (i - by) * step }, { kind: 'has', ts: ts + 0.5 });
      ops.push({ kind: 'evict', cutoff: ts - horizon * step - (by === 3 ? 0.5 : 0) });
      i++;
    }
    return ops;
  });
/** Arbitrary keys from a small pool (many duplicates), non-integers, -0 and the edges of the safe integers. */
const key = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -20, max: 200 }) },
  { weight: 2, arbitrary: fc.integer({ min: -40, max: 400 }).map((x) => x / 4) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 1e-300, 2 ** 53 - 2, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), T0 + 0.5) },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: key.map((ts) => ({ kind: 'insert' as const, ts })) },
  { weight: 2, arbitrary: key.map((ts) => ({ kind: 'has' as const, ts })) },
  { weight: 1, arbitrary: key.map((cutoff) => ({ kind: 'evict' as const, cutoff })) },
);
const program = fc
  .array(
    fc.oneof(
      op.map((o) => [o]),
      stream,
    ),
    { maxLength: 12 },
  )
  .map((xs) => xs.flat());

/** Runs ascending and apart, each of safe integers; no ring key inside the runs. */
function wellFormed(s: SeenKeys): boolean {
  let prevLast = -Infinity;
  const r = s.runs;
  for (let i = 0; i < r.length; i += 3) {
    const [first, step, count] = [r[i]!, r[i + 1]!, r[i + 2]!];
    if (!(first > prevLast && step > 0 && count >= 1 && Number.isSafeInteger(first + (count - 1) * step))) return false;
    prevLast = first + (count - 1) * step;
  }
  return true;
}

function run(ops: Op[], s: SeenKeys, m: number[]): void {
  // Plain comparisons per step (expect() per step is slow); details on the first mismatch.
  ops.forEach((o, step) => {
    const got = o.kind === 'insert' ? insertSeen(s, o.ts) : o.kind === 'evict' ? evictSeen(s, o.cutoff) : hasSeen(s, o.ts);
    const want = o.kind === 'insert' ? modelInsert(m, o.ts) : o.kind === 'evict' ? modelEvict(m, o.cutoff) : m.includes(o.ts);
    if (got !== want || seenSize(s) !== m.length || !wellFormed(s)) {
      expect({ step, o, got, size: seenSize(s), runs: s.runs }).toEqual({ step, o, got: want, size: m.length, runs: s.runs });
      expect(wellFormed(s)).toBe(true);
    }
  });
  const keys = seenKeys(s);
  expect(keys.length).toBe(m.length);
  for (let i = 0; i < m.length; i++) if (!Object.is(keys[i], m[i])) expect(keys).toEqual(m);
}

describe('dedup keys as runs', () => {
  it('agree with a sorted array on every insert, duplicate, query and eviction', () => {
    fc.assert(
      fc.property(program, (ops) => {
        run(ops, empty(), []);
        expect(NO_RUNS).toEqual([]);
        expect(NO_KEYS).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it('restored with loadSeen, go on agreeing', () => {
    fc.assert(
      fc.property(program, program, (before, after) => {
        const s = empty();
        const m: number[] = [];
        run(before, s, m);
        const back = empty();
        loadSeen(back, s.runs.slice(), seenKeys({ ...s, runs: NO_RUNS }));
        run(after, back, m);
      }),
      { numRuns: 200 },
    );
  });

  it('a steady 1 Hz sensor at a 15m horizon holds one run and no ring key', () => {
    const s = empty();
    for (let t = 0; t < 5000; t++) {
      const ts = T0 + t * 1000;
      expect(insertSeen(s, ts)).toBe(true);
      evictSeen(s, ts - 900_000);
    }
    expect(s.runs).toEqual([T0 + 4099_000, 1000, 901]);
    expect(ringSize(s)).toBe(0);
    expect(s.seen).toBe(NO_KEYS);
    expect(insertSeen(s, T0 + 4500_000)).toBe(false);
    expect(insertSeen(s, T0 + 4500_500)).toBe(true); // between two members: held apart, exactly
    expect(hasSeen(s, T0 + 4500_500)).toBe(true);
    expect(hasSeen(s, T0 + 4500_250)).toBe(false);
    expect(s.runs).toEqual([T0 + 4099_000, 1000, 901]);
  });

  it('a gap ends a run and the next three keys start another; jittered keys stay in the ring', () => {
    const s = empty();
    for (const ts of [0, 10, 20, 30, 70, 80, 90, 100]) insertSeen(s, T0 + ts);
    expect(s.runs).toEqual([T0, 10, 4, T0 + 70, 10, 4]);
    expect(ringSize(s)).toBe(0);
    for (const ts of [111, 119, 132, 140]) insertSeen(s, T0 + ts);
    expect(ringSize(s)).toBe(4);
    expect(evictSeen(s, T0 + 25)).toBe(3);
    expect(s.runs).toEqual([T0 + 30, 10, 1, T0 + 70, 10, 4]);
    expect(evictSeen(s, T0 + 120)).toBe(7);
    expect(s.runs).toBe(NO_RUNS);
    expect(seenKeys(s)).toEqual([T0 + 132, T0 + 140]);
  });
});

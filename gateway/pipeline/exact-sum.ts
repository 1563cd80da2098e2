/**
 * Exact, order-independent summation of doubles, for window means that do not depend on arrival order.
 *
 * A running sum is kept as Shewchuk "partials" (the algorithm behind Python's math.fsum): a list of
 * non-overlapping doubles in increasing magnitude whose exact sum is the exact sum of every value added.
 * Adding is exact; `sumPartials` returns the correctly rounded (ties to even) exact sum. Different arrival
 * orders may leave different partials, but the same exact sum, hence the same rounded result, bit for bit.
 *
 * Overflow: two-sum is only exact while no intermediate overflows, and 1e308 + 1e308 would. So values with
 * |x| >= BIG go to a second list of partials, scaled by 2^-64 (exact: such values are far from subnormal).
 * Which list a value joins depends on the value only, so both exact sums stay order independent.
 * `exactMean` then combines them:
 *  - no big value (the normal case): mean = fl(exact sum) / count;
 *  - big values whose combined sum stays below SAFE: the same, fl(exact sum) / count, still exact;
 *  - otherwise (the sum nears or exceeds the double range): mean = fl(fl(B + fl(N) * 2^-64) / count) * 2^64,
 *    where B is the scaled big sum and N the normal sum. This stays finite where fl(sum) would be Infinity,
 *    is still deterministic (every input to it is canonical), and may differ from the ideal mean by an ulp.
 * The caller clamps the mean to [min, max] (see window.ts), which also keeps the scaled case within range.
 * Inputs must be finite; callers validate that at the edge.
 */

/** Values at least this large in magnitude go to the scaled accumulator. */
export const BIG = 2 ** 960;
export const SCALE_DOWN = 2 ** -64;
const SCALE_UP = 2 ** 64;
/** Below this (|N| + |B| * 2^64), adding both sums unscaled cannot overflow even in intermediate steps. */
const SAFE = 2 ** 1021;

/** Adds x to partials p in place, exactly. p holds non-overlapping nonzero doubles in increasing magnitude. */
export function addPartial(p: number[], x: number): void {
  const n = p.length;
  let i = 0;
  for (let j = 0; j < n; j++) {
    let y = p[j] as number;
    if (Math.abs(x) < Math.abs(y)) {
      const t = x;
      x = y;
      y = t;
    }
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) p[i++] = lo;
    x = hi;
  }
  if (x !== 0) p[i++] = x;
  if (p.length !== i) p.length = i;
}

/** The exact sum of the partials, correctly rounded to the nearest double (ties to even), as in CPython's fsum. */
export function sumPartials(p: readonly number[]): number {
  let n = p.length;
  if (n === 0) return 0;
  let hi = p[--n] as number;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = p[--n] as number;
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  // Round half to even across the remaining partials: if lo is exactly half an ulp and the next partial
  // pushes in the same direction, the true sum lies beyond the halfway point, so round away.
  if (n > 0 && ((lo < 0 && (p[n - 1] as number) < 0) || (lo > 0 && (p[n - 1] as number) > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}

/** Adds one finite value to the pair of accumulators; returns the big list (allocated on first need). */
export function addValue(normal: number[], big: number[] | null, x: number): number[] | null {
  if (x < BIG && x > -BIG) {
    addPartial(normal, x);
    return big;
  }
  const b = big ?? [];
  addPartial(b, x * SCALE_DOWN);
  return b;
}

/** Mean of the values accumulated in (normal, big); see the file comment for the exact contract. */
export function exactMean(normal: readonly number[], big: readonly number[] | null, count: number): number {
  if (big === null || big.length === 0) return sumPartials(normal) / count;
  const n = sumPartials(normal);
  const b = sumPartials(big);
  if (Math.abs(n) + Math.abs(b) * SCALE_UP < SAFE) {
    const all: number[] = [];
    for (const x of normal) addPartial(all, x);
    for (const x of big) addPartial(all, x * SCALE_UP);
    return sumPartials(all) / count;
  }
  const all = big.slice();
  addPartial(all, n * SCALE_DOWN);
  return (sumPartials(all) / count) * SCALE_UP;
}

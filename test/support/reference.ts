import type { Reading, WindowPoint } from '../../gateway/pipeline/types.js';

/**
 * A straightforward reference for the pipeline's window aggregates, independent of its implementation:
 * exact sums with BigInt (every double is an integer multiple of 2^-1074), correct rounding by hand,
 * first/last by sorting.
 */

const view = new DataView(new ArrayBuffer(8));

/** x as an integer count of 2^-1074 units (exact). */
export function toUnits(x: number): bigint {
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (exp === 0x7ff) throw new Error('non-finite');
  if (exp !== 0) mant = (mant | (1n << 52n)) << BigInt(exp - 1);
  return hi >>> 31 ? -mant : mant;
}

/** q * 2^-1074 correctly rounded to the nearest double, ties to even (Infinity beyond the range). */
export function fromUnits(q: bigint): number {
  const sign = q < 0n ? -1 : 1;
  let a = q < 0n ? -q : q;
  const bits = a.toString(2).length;
  if (bits <= 53) return sign * Number(a) * 2 ** -1074;
  const shift = bits - 53;
  const rem = a & ((1n << BigInt(shift)) - 1n);
  const half = 1n << BigInt(shift - 1);
  a >>= BigInt(shift);
  if (rem > half || (rem === half && (a & 1n) === 1n)) a += 1n;
  const e = shift - 1074;
  // Split the power of two so neither factor under/overflows on its own.
  return sign * Number(a) * 2 ** Math.min(e, 900) * 2 ** Math.max(e - 900, 0);
}

export function exactSum(values: readonly number[]): number {
  let q = 0n;
  for (const v of values) q += toUnits(v);
  return fromUnits(q);
}

export type Aggregate = Omit<WindowPoint, 'revision' | 'device' | 'sensor' | 'start'>;

export const windowKey = (device: string, sensor: string, start: number) => `${device}|${sensor}|${start}`;

/** Expected aggregate per window key, over exactly these readings. Mean = fl(exact sum) / count, clamped to [min, max]. */
export function referenceWindows(readings: readonly Reading[], intervalMs: number): Map<string, Aggregate> {
  const groups = new Map<string, Reading[]>();
  for (const r of readings) {
    const start = Math.floor(r.ts / intervalMs) * intervalMs;
    const k = windowKey(r.device, r.sensor, start);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [r]);
    else g.push(r);
  }
  const out = new Map<string, Aggregate>();
  for (const [k, g] of groups) {
    const vals = g.map((r) => (r.value === 0 ? 0 : r.value));
    const byFirst = g.map((r, i) => ({ ts: r.ts, v: vals[i]! })).sort((a, b) => a.ts - b.ts || a.v - b.v);
    const min = Math.min(...vals);
    const max = Math.max(...vals);
    const mean = Math.min(max, Math.max(min, exactSum(vals) / vals.length));
    out.set(k, {
      mean,
      min,
      max,
      first: byFirst[0]!.v,
      last: byFirst.at(-1)!.v, // greatest ts; among equal ts the largest value (sorted by ts, then value)
      count: vals.length,
    });
  }
  return out;
}

/**
 * The final aggregate of every window from a stream of emitted points (the last revision wins, as in
 * InfluxDB); also checks that each window's revisions come in order 0, 1, 2, ...
 */
export function finalWindows(points: readonly WindowPoint[]): Map<string, Aggregate> {
  const out = new Map<string, Aggregate>();
  const revs = new Map<string, number>();
  for (const p of points) {
    const k = windowKey(p.device, p.sensor, p.start);
    const expected = (revs.get(k) ?? -1) + 1;
    if (p.revision !== expected) throw new Error(`window ${k}: revision ${p.revision}, expected ${expected}`);
    revs.set(k, p.revision);
    const { mean, min, max, first, last, count } = p;
    out.set(k, { mean, min, max, first, last, count });
  }
  return out;
}

/** Deterministic Fisher-Yates from a seed (mulberry32), so fast-check can shrink and replay. */
export function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const a = xs.slice();
  let t = seed >>> 0;
  const rnd = () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

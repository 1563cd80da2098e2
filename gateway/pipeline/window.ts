import { addValue, exactMean } from './exact-sum.js';
import type { WindowPoint } from './types.js';

/**
 * The aggregate of one sensor over one tumbling window, in two shapes:
 *  - `Win`, a small object, while the window has changes not yet emitted (open, or reopened by late data);
 *  - a flat record of numbers inside the sensor's `sealed` array once emitted and retained for corrections.
 *    Retained windows are the bulk of the pipeline's memory (correctionHorizon / interval per sensor), and a
 *    packed array of doubles costs 8 bytes a field where an object would box every double.
 *
 * Every field is an order-independent function of the set of readings: min, max, count, the exact sum, and
 * first/last with deterministic tie-breaks (equal ts: first takes the smaller value, last the larger one).
 */
export class Win {
  count = 0;
  min = Infinity;
  max = -Infinity;
  firstTs = Infinity;
  first = 0;
  lastTs = -Infinity;
  last = 0;
  /** Exact sum as partials; `big` holds huge values scaled down (see exact-sum.ts). */
  partials: number[] = [];
  big: number[] | null = null;

  /** `rev` is the revision the next emission carries (= how many times this window was emitted). */
  constructor(
    readonly start: number,
    public rev: number,
  ) {}

  /** `value` must be finite and not -0 (the pipeline normalises it). */
  add(ts: number, value: number): void {
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (ts < this.firstTs || (ts === this.firstTs && value < this.first)) {
      this.firstTs = ts;
      this.first = value;
    }
    if (ts > this.lastTs || (ts === this.lastTs && value > this.last)) {
      this.lastTs = ts;
      this.last = value;
    }
    this.big = addValue(this.partials, this.big, value);
  }

  /**
   * The point for this window. The mean is clamped to [min, max]: rounding (fl(sum) / count) may step one
   * ulp outside, and dashboards rightly assume min <= mean <= max.
   */
  point(device: string, sensor: string): WindowPoint {
    let mean = exactMean(this.partials, this.big, this.count);
    if (mean < this.min) mean = this.min;
    else if (mean > this.max) mean = this.max;
    return {
      device,
      sensor,
      start: this.start,
      mean,
      min: this.min,
      max: this.max,
      first: this.first,
      last: this.last,
      count: this.count,
      revision: this.rev,
    };
  }
}

// Flat record layout: [start, count, min, max, firstTs, first, lastTs, last, rev, nPartials, nBig, ...partials, ...big]
export const HEADER = 11;

export function recordLength(a: readonly number[], at: number): number {
  return HEADER + (a[at + 9] as number) + (a[at + 10] as number);
}

/** Appends the record of `w` to `out`. */
export function writeRecord(out: number[], w: Win): void {
  const big = w.big ?? [];
  out.push(w.start, w.count, w.min, w.max, w.firstTs, w.first, w.lastTs, w.last, w.rev, w.partials.length, big.length);
  for (const x of w.partials) out.push(x);
  for (const x of big) out.push(x);
}

/** Rebuilds the window whose record starts at `at`. */
export function readRecord(a: readonly number[], at: number): Win {
  const w = new Win(a[at] as number, a[at + 8] as number);
  w.count = a[at + 1] as number;
  w.min = a[at + 2] as number;
  w.max = a[at + 3] as number;
  w.firstTs = a[at + 4] as number;
  w.first = a[at + 5] as number;
  w.lastTs = a[at + 6] as number;
  w.last = a[at + 7] as number;
  const np = a[at + 9] as number;
  const nb = a[at + 10] as number;
  w.partials = a.slice(at + HEADER, at + HEADER + np);
  if (nb > 0) w.big = a.slice(at + HEADER + np, at + HEADER + np + nb);
  return w;
}

/**
 * Checks that `a` is a well-formed sequence of records (a snapshot is read back from disk); returns how
 * many records it holds, or -1 if it is malformed.
 */
export function countRecords(a: readonly number[]): number {
  let n = 0;
  let at = 0;
  while (at < a.length) {
    if (at + HEADER > a.length) return -1;
    for (let i = at; i < at + HEADER; i++) if (!Number.isFinite(a[i])) return -1;
    const np = a[at + 9] as number;
    const nb = a[at + 10] as number;
    if (!Number.isInteger(np) || !Number.isInteger(nb) || np < 0 || nb < 0 || (a[at + 1] as number) < 1) return -1;
    at += HEADER + np + nb;
    n++;
  }
  return at === a.length ? n : -1;
}

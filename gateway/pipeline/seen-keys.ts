import { type KeyRing, loadRing, ringAt, ringDropLast, ringEvict, ringHas, ringInsert, ringKeys, ringLast, ringSize } from './key-ring.js';

export { NO_KEYS } from './key-ring.js';

/**
 * The dedup keys of one sensor (device-stamped ts already accepted), exactly, in two disjoint sets:
 *  - `runs`: arithmetic runs as triples (first, step, count) in one plain array, ascending and not overlapping
 *    (each run's last key < the next run's first). A run holds the keys first + i * step, 0 <= i < count. Only
 *    safe integers (epoch ms, what the wire carries: timestamp.ts) form runs, so every key of a run is computed
 *    exactly and membership is integer arithmetic; a run may be trimmed by eviction down to one key.
 *  - the ring (key-ring.ts): every other key. Non-integer, jittered, out-of-order keys and keys landing between
 *    a run's members stay there as they are (the "exception list"), so nothing is ever approximated.
 * A key is in at most one of the two. A regular 1 Hz sensor holds ONE run instead of ~900 doubles at a 15m
 * horizon (BENCHMARKS.md "Dedup keys as runs"); a jittered one costs what the ring cost before.
 *
 * Insert (called for every device-stamped reading):
 *  - ts = the last run's last key + step: the run grows (O(1), the common case);
 *  - ts above every key: when the ring's two greatest keys a < b lie after the last run and b - a = ts - b,
 *    they leave the ring and (a, ts - b, 3) becomes a new run; else ts joins the ring at its end (O(1));
 *  - else a binary search of the runs and of the ring (a duplicate is refused), then the ring takes ts.
 * Evict: whole runs below the cutoff go, the first remaining run is trimmed (first advanced by k steps), then
 * the ring evicts as before.
 */
export interface SeenKeys extends KeyRing {
  /** (first, step, count) triples; NO_RUNS when none. */
  runs: number[];
}

/** The runs of a sensor with none. Never written to. */
export const NO_RUNS: number[] = [];

/** Keys a run may hold: safe integers other than -0 (so first + i * step is exact and gives back the key). */
const runnable = (x: number): boolean => Number.isSafeInteger(x) && !Object.is(x, -0);

/** Number of dedup keys held (sums the runs: snapshots and restore, not the hot path). */
export function seenSize(s: SeenKeys): number {
  let n = ringSize(s);
  const r = s.runs;
  for (let i = 2; i < r.length; i += 3) n += r[i] as number;
  return n;
}

/** The keys ascending, as a new array (tests). */
export function seenKeys(s: SeenKeys): number[] {
  const out = ringKeys(s);
  const r = s.runs;
  for (let i = 0; i < r.length; i += 3) for (let k = 0; k < (r[i + 2] as number); k++) out.push((r[i] as number) + k * (r[i + 1] as number));
  return out.sort((a, b) => a - b);
}

/** Whether ts is a key. */
export function hasSeen(s: SeenKeys, ts: number): boolean {
  return inRuns(s.runs, ts) || (s.seenCount > 0 && ringHas(s, ts));
}

/**
 * Replaces the keys (restore): `runs` as triples and `ring` ascending, which the caller has checked (valid
 * runs, ascending and apart, no ring key in a run). `runs` is taken over, not copied.
 */
export function loadSeen(s: SeenKeys, runs: number[], ring: readonly number[]): void {
  s.runs = runs.length === 0 ? NO_RUNS : runs;
  loadRing(s, ring);
}

/** Records ts as seen; false if it already was (a duplicate). */
export function insertSeen(s: SeenKeys, ts: number): boolean {
  const r = s.runs;
  const m = r.length;
  let lastRun = -Infinity;
  if (m > 0) {
    const step = r[m - 2] as number;
    const count = r[m - 1] as number;
    lastRun = (r[m - 3] as number) + (count - 1) * step;
    if (ts === lastRun + step && runnable(ts)) {
      if (s.seenCount > 0 && !(ts > ringLast(s)) && ringHas(s, ts)) return false;
      r[m - 1] = count + 1;
      return true;
    }
    if (ts <= lastRun && inRuns(r, ts)) return false;
  }
  const n = s.seenCount;
  if (n === 0 || ts > ringLast(s)) {
    if (n >= 2 && ts > lastRun && runnable(ts)) {
      const b = ringLast(s);
      const a = ringAt(s, n - 2);
      if (a > lastRun && runnable(a) && runnable(b) && b - a === ts - b) {
        ringDropLast(s, 2);
        if (r === NO_RUNS) s.runs = [a, b - a, 3];
        else r.push(a, b - a, 3);
        return true;
      }
    }
  }
  return ringInsert(s, ts);
}

/** Forgets keys below `cutoff`; returns how many. */
export function evictSeen(s: SeenKeys, cutoff: number): number {
  const r = s.runs;
  let n = 0;
  if (r.length > 0 && (r[0] as number) < cutoff) {
    let i = 0;
    for (; i < r.length; i += 3) {
      const first = r[i] as number;
      const step = r[i + 1] as number;
      const count = r[i + 2] as number;
      if (first >= cutoff) break;
      if (first + (count - 1) * step < cutoff) {
        n += count;
        continue;
      }
      // The smallest k with first + k * step >= cutoff (0 < k < count); the division only guesses it.
      let k = Math.ceil((cutoff - first) / step);
      if (k < 1) k = 1;
      while (first + k * step < cutoff) k++;
      while (k > 1 && first + (k - 1) * step >= cutoff) k--;
      r[i] = first + k * step;
      r[i + 2] = count - k;
      n += k;
      break;
    }
    if (i >= r.length) s.runs = NO_RUNS;
    else if (i > 0) r.splice(0, i);
  }
  if (s.seenCount > 0) n += ringEvict(s, cutoff);
  return n;
}

/** Whether ts is a key of one of the runs (binary search for the last run starting at or before ts). */
function inRuns(r: readonly number[], ts: number): boolean {
  if (r.length === 0 || !runnable(ts) || ts < (r[0] as number)) return false;
  let lo = 0;
  let hi = r.length / 3 - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if ((r[mid * 3] as number) <= ts) lo = mid;
    else hi = mid - 1;
  }
  const first = r[lo * 3] as number;
  const step = r[lo * 3 + 1] as number;
  const count = r[lo * 3 + 2] as number;
  const d = ts - first;
  return d % step === 0 && d / step < count;
}

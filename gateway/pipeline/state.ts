import type { Win } from './window.js';

/**
 * Per-sensor and per-device state of the pipeline, kept compact for ~100k sensors: numbers in packed arrays,
 * one small object per sensor, no closure or object per reading.
 */
export class SensorState {
  /** Greatest event ts of an accepted reading (drives the watermark and all event-time eviction). */
  maxTs = -Infinity;
  /** Gateway time of the latest accepted reading (drives the idle close). */
  lastArrival = -Infinity;
  /** Device-stamped ts already accepted, sorted ascending from `seenHead` (the dedup keys of this sensor). */
  seen: number[] = [];
  seenHead = 0;
  /** Windows with changes not yet emitted, sorted by start. Usually one. */
  open: Win[] = [];
  /** Emitted windows retained for corrections: flat records (window.ts) sorted by start. */
  sealed: number[] = [];
  sealedCount = 0;
  /** Start of the last sealed record, -Infinity when none: lets new windows skip searching `sealed`. */
  sealedMaxStart = -Infinity;

  constructor(
    readonly device: string,
    readonly sensor: string,
  ) {}
}

export class DeviceState {
  readonly sensors = new Map<string, SensorState>();
  /** Greatest ts of an accepted seq-keyed message (gateway-stamped), -Infinity when none yet. */
  seqMaxTs = -Infinity;
  /** seq -> ts of accepted seq-keyed messages, in insertion order (~ ts order) so eviction pops the front. */
  seqs: Map<number, number> | null = null;

  constructor(readonly name: string) {}
}

/** Number of dedup keys a sensor holds. */
export function seenSize(s: SensorState): number {
  return s.seen.length - s.seenHead;
}

/** Records ts as seen; false if it already was (a duplicate). */
export function insertSeen(s: SensorState, ts: number): boolean {
  const a = s.seen;
  const len = a.length;
  if (len === s.seenHead || ts > (a[len - 1] as number)) {
    a.push(ts); // in-order arrival: the common case
    return true;
  }
  let lo = s.seenHead;
  let hi = len;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < ts) lo = mid + 1;
    else hi = mid;
  }
  if (a[lo] === ts) return false;
  a.splice(lo, 0, ts);
  return true;
}

/** Forgets keys below `cutoff`; returns how many. Compacts the array once the dead head outweighs the rest. */
export function evictSeen(s: SensorState, cutoff: number): number {
  const a = s.seen;
  const head0 = s.seenHead;
  let head = head0;
  while (head < a.length && (a[head] as number) < cutoff) head++;
  if (head > 32 && head * 2 > a.length) {
    s.seen = a.slice(head);
    s.seenHead = 0;
  } else {
    s.seenHead = head;
  }
  return head - head0;
}

export const SEQ_NEW = 0;
export const SEQ_DUPLICATE = 1;
export const SEQ_LATE = 2;

/**
 * Dedup of a message keyed by (device, seq): SEQ_NEW (and the key is recorded), SEQ_DUPLICATE, or SEQ_LATE
 * for a message older than the horizon, which can no longer be proven new.
 */
export function checkSeq(d: DeviceState, seq: number, ts: number, horizonMs: number): number {
  let seqs = d.seqs;
  if (seqs === null) seqs = d.seqs = new Map();
  // The horizon is measured back from the greatest ts including this message, like for ts-keyed readings.
  const cutoff = (ts > d.seqMaxTs ? ts : d.seqMaxTs) - horizonMs;
  if (ts < cutoff) return SEQ_LATE;
  const prev = seqs.get(seq);
  if (prev !== undefined) {
    if (prev >= cutoff) return SEQ_DUPLICATE;
    seqs.delete(seq); // expired but not yet evicted (insertion order is only roughly ts order)
  }
  seqs.set(seq, ts);
  if (ts > d.seqMaxTs) {
    d.seqMaxTs = ts;
    for (const [k, t] of seqs) {
      if (t >= cutoff) break;
      seqs.delete(k);
    }
  }
  return SEQ_NEW;
}

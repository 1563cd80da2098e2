import type { SensorState } from './state.js';
import { readRecord, recordLength, type Win, writeRecord } from './window.js';

/**
 * The windows a sensor retains after emitting them, for corrections by late data: flat records (window.ts) in
 * `s.sealed`, sorted by start, with `sealedCount` and `sealedMaxStart` kept in step. The Pipeline decides when
 * (watermark, correctionHorizon); these functions keep the records.
 */

/** Retains `w` (just emitted) in start order. Usually the newest, so appended. */
export function retain(s: SensorState, w: Win): void {
  const a = s.sealed;
  if (w.start > s.sealedMaxStart) {
    writeRecord(a, w);
    s.sealedMaxStart = w.start;
  } else {
    let at = 0;
    while (at < a.length && (a[at] as number) < w.start) at += recordLength(a, at);
    const rec: number[] = [];
    writeRecord(rec, w);
    a.splice(at, 0, ...rec);
  }
  s.sealedCount++;
}

/** Takes the retained window starting at `start` out of `sealed`, if there is one. Rare: late data only. */
export function takeRetained(s: SensorState, start: number): Win | undefined {
  const a = s.sealed;
  for (let at = 0; at < a.length; at += recordLength(a, at)) {
    const st = a[at] as number;
    if (st > start) return undefined;
    if (st === start) {
      const w = readRecord(a, at);
      a.splice(at, recordLength(a, at));
      s.sealedCount--;
      if (start === s.sealedMaxStart) s.sealedMaxStart = lastStart(a);
      return w;
    }
  }
  return undefined;
}

/** Drops retained windows whose end (start + intervalMs) <= limit; returns how many. */
export function evictRetained(s: SensorState, limit: number, intervalMs: number): number {
  const a = s.sealed;
  let at = 0;
  let k = 0;
  while (at < a.length && (a[at] as number) + intervalMs <= limit) {
    at += recordLength(a, at);
    k++;
  }
  if (k === 0) return 0;
  a.splice(0, at);
  s.sealedCount -= k;
  if (a.length === 0) s.sealedMaxStart = -Infinity;
  return k;
}

function lastStart(a: readonly number[]): number {
  let last = -Infinity;
  for (let at = 0; at < a.length; at += recordLength(a, at)) last = a[at] as number;
  return last;
}

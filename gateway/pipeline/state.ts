import { NO_CHUNKS, phaseOf } from './retained-chunks.js';
import { NO_RECORDS } from './retained.js';
import { NO_KEYS, NO_RUNS, type SeenKeys } from './seen-keys.js';
import type { Win } from './window.js';

export { evictSeen, insertSeen, seenSize } from './seen-keys.js';

/**
 * Per-sensor and per-device state of the pipeline, kept compact for ~100k sensors: numbers in packed arrays,
 * one small object per sensor, no closure or object per reading.
 */
export class SensorState implements SeenKeys {
  /** Greatest event ts of an accepted reading (drives the watermark and all event-time eviction). */
  maxTs = -Infinity;
  /** Gateway time of the latest accepted reading (drives the idle close). */
  lastArrival = -Infinity;
  /** Device-stamped ts already accepted (the dedup keys of this sensor): runs and a ring, see seen-keys.ts. */
  runs: number[] = NO_RUNS;
  seen: number[] = NO_KEYS;
  seenHead = 0;
  seenCount = 0;
  /** Windows with changes not yet emitted, sorted by start. Usually one. */
  open: Win[] = [];
  /**
   * The last window emitted, kept to be the next one opened (Win.reset). Every sensor opens a window per interval,
   * and with the windows aligned to the interval most sensors of a fleet open theirs within the same second: a
   * new object each time was young-generation garbage that lived past the next scavenges (the window stays open
   * for its interval and the lateness), so every interval promoted ~200 bytes per sensor and made the gateway
   * thread's scavenges long (BENCHMARKS.md, "A window object per sensor, reused").
   */
  spare: Win | null = null;
  /** Emitted windows retained for corrections: byte records in sealed[0, sealedBytes), sorted by start (retained.ts). */
  sealed: Buffer = NO_RECORDS;
  sealedBytes = 0;
  sealedCount = 0;
  /** Start of the first sealed record, -Infinity when none. */
  sealedFirstStart = -Infinity;
  /** Start of the last sealed record, -Infinity when none: lets new windows skip searching `sealed`. */
  sealedMaxStart = -Infinity;
  /** Where the sensor's chunks begin (retained-chunks.ts). */
  readonly chunkPhase: number;
  /** Chunks of the retained windows changed since the device's last row (retained-chunks.ts). */
  chunks: number[] = NO_CHUNKS;
  /** Byte offset and start of the tail chunk's first record; tailAt -1: not known (retained-chunks.ts). */
  tailAt = -1;
  tailStart = 0;
  /**
   * When the sensor last joined the pipeline's pending set (a counter, not a time): the set's order, which
   * `tick` follows, is ascending pendingAt, so a checkpoint kept as rows per device can rebuild it.
   */
  pendingAt = 0;

  constructor(
    readonly device: string,
    readonly sensor: string,
  ) {
    this.chunkPhase = phaseOf(device);
  }
}

export class DeviceState {
  readonly sensors = new Map<string, SensorState>();
  /** Greatest ts of an accepted seq-keyed message (gateway-stamped), -Infinity when none yet. */
  seqMaxTs = -Infinity;
  /** seq -> ts of accepted seq-keyed messages, in insertion order (~ ts order) so eviction pops the front. */
  seqs: Map<number, number> | null = null;
  /** The epoch of the last snapshot capture that wrote (or excluded) this device: see SnapshotCapture. */
  snapEpoch = 0;
  /** The pipeline's dirty generation in which this device last changed (Pipeline.beginDelta). */
  dirtyMark = 0;

  constructor(readonly name: string) {}
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

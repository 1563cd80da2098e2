import { Captures } from './captures.js';
import { type PipelineCapture, type PipelineDelta, type PipelineSnapshot, restoreSnapshot, takeSnapshot } from './snapshot.js';
import { type DeviceState, type SensorState, seenSize } from './state.js';
import type { PipelineSettings } from './types.js';
import { type ChunkSpan, chunkSpan } from './retained-chunks.js';

export interface PipelineStats {
  sensors: number;
  openWindows: number;
  retainedWindows: number;
  dedupKeys: number;
}

/**
 * What the pipeline holds between messages (pipeline.ts processes them): every device's and sensor's state
 * (state.ts), the sensors with open windows in the order `tick` visits them, the counts of stats(), and this
 * state's persistence: restored from a snapshot when built, captured whole or as deltas for the checkpoints.
 * The pipeline's base class, so that the hot path reads these fields directly.
 */
export abstract class PipelineState {
  protected readonly interval: number;
  protected devices: Map<string, DeviceState>;
  /** Sensors with unemitted windows, in the order `tick` visits them. */
  protected pending: Set<SensorState>;
  protected readonly counts: PipelineStats = { sensors: 0, openWindows: 0, retainedWindows: 0, dedupKeys: 0 };
  /** Snapshots and incremental checkpoint captures, and the devices changed since the last (captures.ts). */
  protected readonly captures: Captures;
  /** Counts additions to `pending` (SensorState.pendingAt). */
  protected pendingClock = 0;
  /** Chunks of the retained windows, marked once incremental checkpoints are taken (retained-chunks.ts). */
  protected readonly span: ChunkSpan;

  constructor(
    settings: PipelineSettings,
    snapshot?: PipelineSnapshot,
    /**
     * The snapshot is the rows of the store this pipeline's incremental checkpoints go to: the first of them then
     * writes only what changes from here on, not every row (Checkpoint.rows; chunks marked from the restore on).
     */
    fromRows = false,
  ) {
    // Every setting, the ones Pipeline reads too, is checked before anything is built.
    const { intervalMs, allowedLatenessMs, correctionHorizonMs, dedupHorizonMs } = settings;
    if (!(Number.isSafeInteger(intervalMs) && intervalMs > 0)) throw new RangeError(`intervalMs must be a positive integer, got ${intervalMs}`);
    for (const [k, v] of Object.entries({ allowedLatenessMs, correctionHorizonMs, dedupHorizonMs })) {
      if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`${k} must be a finite number >= 0, got ${v}`);
    }
    this.interval = intervalMs;
    this.span = chunkSpan(intervalMs, settings.chunkWindows);
    if (snapshot === undefined) {
      this.devices = new Map();
      this.pending = new Set();
    } else {
      ({ devices: this.devices, pending: this.pending } = restoreSnapshot(snapshot, intervalMs));
      // Restored from rows, the pending order stays as the rows on disk say (a device row the next delta does not
      // rewrite keeps its numbers); from a whole snapshot it is renumbered in order.
      if (fromRows) for (const s of this.pending) this.pendingClock = Math.max(this.pendingClock, s.pendingAt);
      else for (const s of this.pending) s.pendingAt = ++this.pendingClock;
      this.span.track = fromRows;
      this.recount();
    }
    this.captures = new Captures(intervalMs, this.devices, this.pending, this.span, !(snapshot !== undefined && fromRows));
  }

  /**
   * The whole state as a version 3 snapshot (a Buffer, see snapshot.ts), in one go. Cost is proportional to the
   * state: the checkpointer uses beginSnapshot, which spreads it over turns of the event loop.
   */
  snapshot(): Buffer {
    return this.beginSnapshot().finish();
  }

  /**
   * Starts a snapshot of the state as it is now, to be written in steps while ingest and ticks go on (each
   * change to a device not yet written keeps a copy of it first: SnapshotCapture). Until `finish` or `abort`, no
   * other snapshot can begin. `copyBudget`: bytes of such copies held at once (default COPY_BUDGET, 32 MiB).
   */
  beginSnapshot(copyBudget?: number): PipelineCapture {
    return this.captures.beginSnapshot(copyBudget);
  }

  /**
   * Starts capturing the devices changed since the last delta began (all of them the first time, or after a
   * failed full one), as rows for an incremental checkpoint (snapshot-rows.ts): written in steps while ingest
   * and ticks go on, yet the state when it began. After a failed save, `abort()` gives the devices back to the
   * next delta. Shares the one capture slot with beginSnapshot.
   */
  beginDelta(copyBudget?: number): PipelineDelta {
    this.span.track = true;
    return this.captures.beginDelta(copyBudget);
  }

  /** The head of a delta's part: a whole snapshot of no device (it carries the interval, snapshot-rows.ts). */
  deltaHead(): Buffer {
    return takeSnapshot(this.interval, new Map(), new Set());
  }

  stats(): PipelineStats {
    return { ...this.counts };
  }

  private recount(): void {
    const c = this.counts;
    for (const d of this.devices.values()) {
      c.dedupKeys += d.seqs?.size ?? 0;
      for (const s of d.sensors.values()) {
        c.sensors++;
        c.openWindows += s.open.length;
        c.retainedWindows += s.sealedCount;
        c.dedupKeys += seenSize(s);
      }
    }
  }
}

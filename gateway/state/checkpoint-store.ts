import type { RowBatch } from '../persist/rows.js';

/**
 * The state that lives in memory between emissions, as the bytes of each part's format (persist/formats.ts).
 * Opaque here: each part validates its own bytes when it restores them. Stores give back copies.
 */
export interface CheckpointParts {
  /** Open windows, retained aggregates for corrections, dedup keys (FORMATS.pipelineSnapshot). */
  readonly pipeline: Uint8Array;
  /** Alert state and the firing events (FORMATS.alertSnapshot). */
  readonly alerts: Uint8Array;
  /** Edge node sessions, devices and alias maps of the Sparkplug host (FORMATS.sparkplugSnapshot). */
  readonly sparkplug: Uint8Array;
}

/**
 * An incremental checkpoint's parts (docs/durability.md, "Incremental checkpoints"): the pipeline and the alerts
 * as rows, one per device, of only the devices changed since the last checkpoint; a part whose `full` is set
 * replaces all its rows. The Sparkplug part is small and written whole.
 */
export interface DeltaParts {
  readonly pipelineHead: Uint8Array;
  readonly pipelineRows: RowBatch;
  readonly pipelineFull: boolean;
  readonly alertRows: RowBatch;
  readonly alertsFull: boolean;
  readonly sparkplug: Uint8Array;
}

export interface CheckpointDelta extends DeltaParts {
  readonly savedAt: number;
  /** As Checkpoint.logPosition: the state of every row together is the state at this position. */
  readonly logPosition: number;
}

export const isDelta = (p: CheckpointParts | DeltaParts): p is DeltaParts => 'pipelineRows' in p;

export interface Checkpoint extends CheckpointParts {
  readonly savedAt: number;
  /**
   * The state includes the effect of every ingest log entry up to this position and of none after it: a
   * restart restores it and replays the log from position + 1 (see docs/durability.md).
   */
  readonly logPosition: number;
  /**
   * Set by load() when the pipeline and alert parts were read from the rows of an incremental checkpoint: a
   * pipeline restored from them may take its next checkpoint incrementally too (Pipeline's `fromRows`).
   */
  readonly rows?: boolean;
}

/**
 * Where checkpoints live (SQLite today, next to the ingest log; another store later: docs/durability.md, "Interfaces").
 * Called by the Checkpointer only: periodically, when the ingest log fills up, and at a graceful stop.
 */
export interface CheckpointStore {
  /** The last saved checkpoint, if any. */
  load(): Checkpoint | undefined;
  /**
   * Replaces the checkpoint and deletes the ingest log entries at or before `cp.logPosition`, atomically:
   * a crash leaves either the old checkpoint with its log or the new one with the shorter log.
   */
  save(cp: Checkpoint): void;
  /**
   * Applies an incremental checkpoint to the rows of the last one, with its position and the log truncation,
   * atomically (as save). A part that is not `full` needs rows to apply to (the last save was a delta).
   * load() then gives each part as one blob (persist/rows.ts packRows) that the part's restore reads.
   */
  saveDelta?(cp: CheckpointDelta): void;
  /**
   * saveDelta on a thread of its own, so that the event loop goes on meanwhile; `done` runs on the event loop
   * once it committed or failed. One at a time; every other call on the store first waits for it (settle).
   */
  saveDeltaAsync?(cp: CheckpointDelta, done: (err: Error | null) => void): void;
  /** Waits (blocking) for an asynchronous save in flight and runs its `done` now. */
  settle?(): void;
  /** Gets saveDeltaAsync's thread going now (the gateway's start, once MQTT listens), not at the first save. */
  prestart?(): void;
  close(): void;
}

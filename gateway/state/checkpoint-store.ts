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

export interface Checkpoint extends CheckpointParts {
  readonly savedAt: number;
  /**
   * The state includes the effect of every ingest log entry up to this position and of none after it: a
   * restart restores it and replays the log from position + 1 (see docs/durability.md).
   */
  readonly logPosition: number;
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
  close(): void;
}

/**
 * The state that lives in memory between emissions: open windows, retained aggregates for corrections, dedup
 * keys (the pipeline snapshot) and alert state. Opaque here: each part validates its own snapshot when it
 * restores it.
 */
export interface Checkpoint {
  /**
   * The pipeline snapshot: a Buffer (version 3, binary, stored as bytes) or, in a checkpoint written by an older
   * gateway, a JSON value (versions 1 and 2). Stores give back a copy of what was saved, of the same kind.
   */
  readonly pipeline: unknown;
  /**
   * The alert snapshot: a Buffer (version 2, binary, stored as bytes) or, in a checkpoint written by an older
   * gateway, a JSON value. Stores give back a copy of what was saved, of the same kind.
   */
  readonly alerts: unknown;
  /**
   * The Sparkplug host part (sparkplug/host-snapshot.ts): a JSON value with its own version, absent in a
   * checkpoint written before it existed. Stores give back a copy.
   */
  readonly sparkplug?: unknown;
  readonly savedAt: number;
  /**
   * The state includes the effect of every ingest log entry up to this position and of none after it: a
   * restart restores it and replays the log from position + 1 (see docs/durability.md).
   */
  readonly logPosition: number;
}

/**
 * Where checkpoints live (SQLite today, next to the ingest log; a JetStream-backed store later, see ROADMAP).
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

/**
 * The ingest log: QoS 1 publishes on ingest topics, recorded before they are acknowledged (PUBACK) and before
 * the pipeline sees them, so a crash loses no acknowledged reading: the last checkpoint plus the log after it
 * rebuild the state. Entries are deleted when a checkpoint covers them (CheckpointStore.save).
 *
 * A record holds what decode + pipeline need to reproduce the original processing exactly, notably the
 * receive time: it is the event time of readings sent without `ts`, so replay must not use the clock.
 */
export interface IngestRecord {
  readonly topic: string;
  readonly payload: Buffer;
  /** Gateway time (ms) at which the publish reached the gate. */
  readonly receivedAt: number;
}

export interface LoggedRecord extends IngestRecord {
  /** Increasing, never reused (also across truncations and restarts). */
  readonly position: number;
}

export interface IngestLogTotals {
  readonly entries: number;
  /** Topic + payload bytes of the entries (the bound `durability.logMaxBytes` applies to this). */
  readonly bytes: number;
  /** receivedAt of the oldest entry; undefined when empty. */
  readonly oldestReceivedAt: number | undefined;
  /** Position of the last entry ever appended (0 before the first). */
  readonly lastPosition: number;
}

/** Called by the IngestJournal (append), the recovery at start (after) and the Checkpointer (totals). */
export interface IngestLog {
  /** Appends the records in one transaction, durable per `durability.sync` when it returns; returns the last position. */
  append(records: readonly IngestRecord[]): number;
  /** The entries after `position`, in order, read in pages (the caller may write elsewhere while iterating). */
  after(position: number): Iterable<LoggedRecord>;
  totals(): IngestLogTotals;
  /**
   * True while a checkpoint is written on another thread (SQLite has one writer at a time): an append now would
   * block the event loop until it commits, so the journal holds its group until `whenIdle` calls back.
   */
  busy?(): boolean;
  whenIdle?(f: () => void): void;
}

export function recordBytes(r: IngestRecord): number {
  return Buffer.byteLength(r.topic) + r.payload.length;
}

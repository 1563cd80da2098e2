/**
 * The outbox's storage seam: batches of line protocol, oldest first, plus a dead-letter table. The SQLite
 * class is the real implementation; the in-memory one serves unit tests (both pass test/unit/outbox/store-contract).
 *
 * Contract: `append` is durable when it returns (per the configured sync mode); ids grow strictly, so id order
 * is commit order; nothing is deleted except by `ack`, `deadLetter` and `dropOldest`.
 */
export interface BatchInfo {
  readonly createdMs: number;
  readonly points: number;
  /** UTF-8 length of the body. */
  readonly bytes: number;
  /** Point time range, for the log line when a batch is dropped. */
  readonly minTime: number;
  readonly maxTime: number;
}

export interface NewBatch extends BatchInfo {
  /** Newline-separated line protocol. */
  readonly body: string;
  /** Where each series bucket starts in the body (lanes.ts `groupBySeries`). */
  readonly cuts: Uint32Array;
}

/**
 * A waiting batch as `peek` returns it. The body comes as the stored UTF-8 bytes: a backlog drains ~8 MB a
 * request, and decoding it into a string only for the HTTP client to encode it again costs as much CPU as
 * the rest of the drain loop (test/bench/outbox-drain.ts, BENCHMARKS.md "Outbox").
 */
export interface StoredBatch extends BatchInfo {
  readonly id: number;
  /** Newline-separated line protocol, UTF-8. */
  readonly body: Buffer;
  /** As appended. The drain checks them before use (lanes.ts validCuts): a damaged row must not cut lines apart. */
  readonly cuts: Uint32Array;
}

export interface DroppedBatches {
  readonly batches: number;
  readonly points: number;
  readonly bytes: number;
  readonly minTime: number;
  readonly maxTime: number;
}

export interface DeadLetter {
  readonly id: number;
  readonly batchId: number;
  readonly createdMs: number;
  readonly failedMs: number;
  readonly points: number;
  readonly bytes: number;
  readonly error: string;
  readonly body: string;
}

export interface OutboxTotals {
  readonly batches: number;
  readonly points: number;
  readonly bytes: number;
  readonly oldestCreatedMs: number | undefined;
}

export interface DeadLetterTotals {
  readonly letters: number;
  readonly points: number;
  readonly bytes: number;
}

/** The refused part of a batch, when InfluxDB stored the rest. */
export interface RefusedPart {
  readonly body: string;
  readonly points: number;
}

export interface PeekLimit {
  readonly points: number;
  readonly bytes: number;
  readonly batches: number;
}

export interface OutboxStore {
  append(batch: NewBatch): number;
  /**
   * Oldest batches with an id above `afterId` (default 0: the oldest of all), in id order, as many as fit in
   * the limit (always at least one if any is waiting).
   */
  peek(limit: PeekLimit, afterId?: number): StoredBatch[];
  /**
   * How many batches with an id up to `id` are waiting. The drainer checks a group it read ahead against it:
   * equal to the group's length means the group is still the head of the queue, nothing in it dropped.
   */
  waitingUpTo(id: number): number;
  /** InfluxDB acknowledged these batches: delete them. */
  ack(ids: readonly number[]): void;
  /**
   * Removes the batch and records a dead letter with `error`: the whole batch, or only `refused` when InfluxDB
   * stored the rest. Atomic.
   */
  deadLetter(id: number, error: string, failedMs: number, refused?: RefusedPart): void;
  /**
   * Deletes the oldest batches with id > `afterId` (batches at or below it are in flight) until the waiting
   * bytes are at most `maxBytes`. Undefined when nothing was deleted.
   */
  dropOldest(maxBytes: number, afterId: number): DroppedBatches | undefined;
  /** Deletes the oldest dead letters until they take at most `maxBytes`; returns how many letters went. */
  trimDeadLetters(maxBytes: number): number;
  totals(): OutboxTotals;
  deadLetterTotals(): DeadLetterTotals;
  /** Most recent first. */
  deadLetters(limit: number): DeadLetter[];
  close(): void;
}

import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Timers } from '../time/timers.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { CheckpointParts, DeltaParts } from './checkpoint-store.js';
import type { IngestLog } from './ingest-log.js';

/**
 * The state being captured for a checkpoint: begun synchronously (no publish is processed in between), then
 * written in steps while ingest goes on, yet the state at the moment it began (Pipeline.beginSnapshot).
 */
export interface StateCapture {
  /** Writes a little more (a few dozen devices); true when only `finish` is left. */
  step(): boolean;
  /** Writes the rest; the parts of the checkpoint (whole, or an incremental one: DeltaParts). */
  finish(): CheckpointParts | DeltaParts;
  /** Drops the capture; after `finish`, when its save failed: an incremental capture's changes go to the next one. */
  abort(): void;
}

export interface CheckpointerOptions {
  readonly store: CheckpointStore;
  readonly log: IngestLog;
  readonly timers: Timers;
  /** durability.checkpointInterval. */
  readonly intervalMs: number;
  /** Begins capturing the in-memory state. */
  readonly capture: () => StateCapture;
  /** How long one slice of a capture may hold the event loop (default 1 ms; steps are a few dozen µs). */
  readonly sliceMs?: number;
  /**
   * The pause between two slices (default 4 ms): a capture takes at most ~1/5 of a core, so the publishes that
   * arrive meanwhile do not queue up behind it (measured: alert latency p99 at 50 % load, BENCHMARKS.md).
   */
  readonly sliceGapMs?: number;
  /**
   * Commits every window emitted so far to the outbox (outbox.flush()). Runs BEFORE the checkpoint commits:
   * a checkpoint must never cover a window that is only in memory, or a crash would lose it.
   */
  readonly commitEmitted: () => void;
  /**
   * For the sliced checkpoints, instead of `commitEmitted` in the turn that begins them: closes what was emitted
   * so far (outbox.seal(), cheap) and returns the function that commits it a piece at a time (true when all is
   * committed: outbox.commitSealed(lines)), which the checkpointer runs in turns of their own, held to `sliceMs`
   * like the slices, before the checkpoint is saved. The same guarantee, without an SQLite commit of up to a whole
   * batch in one turn.
   */
  readonly sealEmitted?: () => () => boolean;
  /** Grows whenever the state changes (a publish processed, a window emitted): an idle gateway writes nothing. */
  readonly version: () => number;
  /** After each successful checkpoint (the journal resumes acknowledging). */
  readonly onSaved?: () => void;
  /**
   * How long the gateway thread has waited for a core so far, ms (threads/run-queue.ts; absent off Linux): each
   * turn is also counted less the waits inside it (gateway_checkpoint_turn_running_seconds), which tells a turn
   * the checkpoint made long from one the machine did.
   */
  readonly waited?: () => number;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { TimerHandle, Timers } from '../outbox/timers.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { IngestLog } from './ingest-log.js';

export interface CheckpointerOptions {
  readonly store: CheckpointStore;
  readonly log: IngestLog;
  readonly timers: Timers;
  /** durability.checkpointInterval. */
  readonly intervalMs: number;
  /** The in-memory state, taken synchronously (no publish is processed in between). */
  readonly capture: () => { pipeline: unknown; alerts: unknown };
  /**
   * Commits every window emitted so far to the outbox (outbox.flush()). Runs BEFORE the checkpoint commits:
   * a checkpoint must never cover a window that is only in memory, or a crash would lose it.
   */
  readonly commitEmitted: () => void;
  /** Grows whenever the state changes (a publish processed, a window emitted): an idle gateway writes nothing. */
  readonly version: () => number;
  /** After each successful checkpoint (the journal resumes acknowledging). */
  readonly onSaved?: () => void;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * Saves the pipeline and alert state together with the ingest log position it covers: every
 * `checkpointInterval`, soon after the journal asks (the log is half full), and once more at a graceful stop
 * (which is nothing but a final checkpoint). The position is the last logged entry: the journal feeds every
 * logged entry to the pipeline in the same synchronous step as the append, so the state covers exactly the
 * entries up to it.
 */
export class Checkpointer {
  private timer: TimerHandle | undefined;
  private soon: TimerHandle | undefined;
  private savedVersion = -1;
  private stopped = false;

  constructor(private readonly o: CheckpointerOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Coalesced: one checkpoint on the next turn of the event loop, not inside the caller's stack. */
  request(): void {
    if (this.soon !== undefined || this.stopped) return;
    this.soon = this.o.timers.setTimeout(() => {
      this.soon = undefined;
      this.checkpoint();
    }, 0);
  }

  /** Returns false when the save failed (logged, counted; the log is kept, so nothing is lost, and it is retried). */
  checkpoint(): boolean {
    const version = this.o.version();
    const position = this.o.log.totals().lastPosition;
    if (version === this.savedVersion && this.o.log.totals().entries === 0) {
      this.o.metrics.checkpoints.inc({ result: 'unchanged' });
      return true;
    }
    const t0 = performance.now();
    let t1 = t0;
    let t2 = t0;
    try {
      const state = this.o.capture();
      t1 = performance.now();
      this.o.commitEmitted();
      t2 = performance.now();
      this.o.store.save({ pipeline: state.pipeline, alerts: state.alerts, savedAt: this.o.timers.now(), logPosition: position });
    } catch (err) {
      this.o.metrics.checkpoints.inc({ result: 'failed' });
      this.o.logger.error({ err }, 'checkpoint failed: the ingest log is kept (and bounds PUBACKs) until one succeeds');
      return false;
    }
    this.savedVersion = version;
    this.o.metrics.checkpoints.inc({ result: 'saved' });
    const h = this.o.metrics.checkpointSeconds;
    h.observe({ phase: 'capture' }, (t1 - t0) / 1000);
    h.observe({ phase: 'outbox' }, (t2 - t1) / 1000);
    h.observe({ phase: 'save' }, (performance.now() - t2) / 1000);
    const t = this.o.log.totals();
    this.o.metrics.ingestLogEntries.set(t.entries);
    this.o.metrics.ingestLogBytes.set(t.bytes);
    this.o.onSaved?.();
    return true;
  }

  /** Stops the periodic checkpoints; the caller takes the final one. */
  stop(): void {
    this.stopped = true;
    for (const h of [this.timer, this.soon]) if (h !== undefined) this.o.timers.clearTimeout(h);
    this.timer = this.soon = undefined;
  }

  private schedule(): void {
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.checkpoint();
      this.schedule();
    }, this.o.intervalMs);
  }
}

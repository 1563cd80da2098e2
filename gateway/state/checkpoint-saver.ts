import { isDelta } from './checkpoint-store.js';
import type { CheckpointerOptions, StateCapture } from './checkpointer-options.js';

/** One checkpoint, from the capture's beginning to its save. */
export interface Run {
  readonly capture: StateCapture;
  readonly version: number;
  readonly position: number;
  /** Commits a piece of the windows sealed when the capture began (true: all), until all are (before the save). */
  commitSealed: (() => boolean) | undefined;
  /** Every step taken: only `finish` is left. */
  stepped: boolean;
}

/**
 * Opens a checkpoint (begins the capture, and commits the windows emitted so far, or seals them for a sliced
 * one) and saves it: whole, incremental, or incremental on the store's writer thread. Counts each outcome
 * (gateway_checkpoints_total{result}) and times each phase (gateway_checkpoint_seconds{phase}). When and in how
 * many turns, between the two, is the Checkpointer's (checkpointer.ts).
 */
export class CheckpointSaver {
  /** The capture whose incremental checkpoint is being written on the store's writer thread, if any. */
  private saving: Run | undefined;
  private savedVersion = -1;

  /** `onWritten`: after the writer thread's result of an incremental save has been counted. */
  constructor(
    private readonly o: CheckpointerOptions,
    private readonly onWritten: () => void,
  ) {}

  /** An incremental save is being written on the store's writer thread. */
  get writing(): boolean {
    return this.saving !== undefined;
  }

  /**
   * Starts a capture and commits the windows emitted so far (`sliced` with `sealEmitted`: seals them, committed
   * by a later turn): undefined when there is nothing new to save, null when it failed.
   */
  open(sliced = false): Run | undefined | null {
    // An incremental save in flight must have committed (or failed, giving its devices back) before the next
    // capture takes the devices changed since.
    this.o.store.settle?.();
    const version = this.o.version();
    const totals = this.o.log.totals();
    if (version === this.savedVersion && totals.entries === 0) {
      this.o.metrics.checkpoints.inc({ result: 'unchanged' });
      return undefined;
    }
    const t0 = performance.now();
    const capture = this.attempt(() => this.o.capture());
    if (capture === null) return null;
    this.observe('capture', t0);
    const run: Run = { capture, version, position: totals.lastPosition, commitSealed: undefined, stepped: false };
    const seal = this.o.sealEmitted;
    if (sliced && seal !== undefined) {
      const commit = this.attempt(seal);
      if (commit === null) return (capture.abort(), null);
      run.commitSealed = commit;
      return run;
    }
    const t1 = performance.now();
    // Before the checkpoint commits: it must never cover a window that is only in memory.
    if (this.attempt(() => this.o.commitEmitted()) === null) {
      capture.abort();
      return null;
    }
    this.observe('outbox', t1);
    return run;
  }

  /**
   * Finishes the capture and saves it; `async`: an incremental one is written on the store's writer thread (the
   * periodic checkpoints), and the result counted when it is done.
   */
  commit(run: Run, async = false): boolean {
    const t0 = performance.now();
    const parts = this.attempt(() => run.capture.finish());
    if (parts === null) return false;
    const savedAt = this.o.timers.now();
    const store = this.o.store;
    if (isDelta(parts)) {
      const delta = { ...parts, savedAt, logPosition: run.position };
      if (async && store.saveDeltaAsync !== undefined) {
        const postedAt = performance.now();
        const posted = this.attempt(() =>
          store.saveDeltaAsync!(delta, (err) => {
            if (err === null) this.observe('write', postedAt);
            this.written(run, err);
          }),
        );
        if (posted === null) return (run.capture.abort(), false);
        this.saving = run;
        this.observe('save', t0);
        return true;
      }
      if (store.saveDelta === undefined) throw new Error('this checkpoint store cannot save incremental checkpoints');
      if (this.attempt(() => store.saveDelta!(delta)) === null) return (run.capture.abort(), false);
    } else if (this.attempt(() => store.save({ ...parts, savedAt, logPosition: run.position })) === null) return false;
    this.observe('save', t0);
    this.done(run);
    return true;
  }

  /** The writer thread's result of an incremental save (on the event loop, or inside settle()). */
  private written(run: Run, err: Error | null): void {
    this.saving = undefined;
    if (err !== null) {
      this.attempt(() => {
        throw err;
      });
      run.capture.abort();
    } else this.done(run);
    this.onWritten();
  }

  /** Counts a saved checkpoint; the journal resumes. */
  private done(run: Run): void {
    this.savedVersion = run.version;
    this.o.metrics.checkpoints.inc({ result: 'saved' });
    const t = this.o.log.totals();
    this.o.metrics.ingestLogEntries.set(t.entries);
    this.o.metrics.ingestLogBytes.set(t.bytes);
    this.o.onSaved?.();
  }

  /** Runs `f`; on an exception logs and counts a failed checkpoint and returns null. */
  attempt<T>(f: () => T): T | null {
    try {
      return f();
    } catch (err) {
      this.o.metrics.checkpoints.inc({ result: 'failed' });
      this.o.logger.error({ err }, 'checkpoint failed: the ingest log is kept (and bounds PUBACKs) until one succeeds');
      return null;
    }
  }

  /** Times a phase since `since` into gateway_checkpoint_seconds{phase}. */
  observe(phase: 'capture' | 'outbox' | 'slice' | 'save' | 'write', since: number): void {
    this.o.metrics.checkpointSeconds.observe({ phase }, (performance.now() - since) / 1000);
  }
}

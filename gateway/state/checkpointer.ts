import type { TimerHandle } from '../time/timers.js';
import { isDelta } from './checkpoint-store.js';
import type { CheckpointerOptions, StateCapture } from './checkpointer-options.js';

export type { CheckpointerOptions, StateCapture } from './checkpointer-options.js';

/**
 * Saves the pipeline and alert state together with the ingest log position it covers: every
 * `checkpointInterval`, soon after the journal asks (the log is half full), and once more at a graceful stop
 * (which is nothing but a final checkpoint). The position is the last logged entry when the capture begins:
 * the journal feeds every logged entry to the pipeline in the same synchronous step as the append, so the
 * state captured covers exactly the entries up to it.
 *
 * The periodic and requested checkpoints capture in slices of `sliceMs`, `sliceGapMs` apart, so ingest pauses
 * for the start of a capture and one slice at a time rather than for the whole state
 * (BENCHMARKS.md, "Checkpoints in slices": that pause was the alert latency's p99). Entries logged meanwhile
 * stay in the log and are covered by the next checkpoint. `checkpoint()` (stop, after a replay) captures in one go.
 *
 * The turns of a sliced checkpoint, each timed into gateway_checkpoint_turn_seconds{phase}: `begin` (settle the
 * previous save, begin the capture, seal the emitted windows with `sealEmitted`, a first slice), `outbox` (the
 * sealed windows committed, alone), `slice`, and `finish` (the last slice, finish, hand-over to the writer).
 */
interface Run {
  readonly capture: StateCapture;
  readonly version: number;
  readonly position: number;
  /** Commits a piece of the windows sealed when the capture began (true: all), until all are (before the save). */
  commitSealed: (() => boolean) | undefined;
  /** Every step taken: only `finish` is left. */
  stepped: boolean;
}

type Turn = 'begin' | 'outbox' | 'slice' | 'finish';

export class Checkpointer {
  private timer: TimerHandle | undefined;
  private soon: TimerHandle | undefined;
  private slice: TimerHandle | undefined;
  /** The sliced capture in progress, if any. */
  private running: Run | undefined;
  /** The capture whose incremental checkpoint is being written on the store's writer thread, if any. */
  private saving: Run | undefined;
  /** A checkpoint was asked for while one was running: another follows it. */
  private again = false;
  private savedVersion = -1;
  private stopped = false;
  /** Longest event-loop turn of a periodic checkpoint so far, seconds (gateway_checkpoint_pause_max_seconds). */
  private longest = 0;

  constructor(private readonly o: CheckpointerOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Coalesced: a checkpoint begins on the next turn of the event loop, not inside the caller's stack. */
  request(): void {
    if (this.stopped) return;
    if (this.running !== undefined || this.saving !== undefined) {
      this.again = true;
      return;
    }
    if (this.soon !== undefined) return;
    this.soon = this.o.timers.setTimeout(() => {
      this.soon = undefined;
      this.begin();
    }, 0);
  }

  /**
   * A whole checkpoint now, in one go (a sliced one in progress is dropped: this one covers more). Returns false
   * when the save failed (logged, counted; the log is kept, so nothing is lost, and it is retried).
   */
  checkpoint(): boolean {
    this.drop();
    const started = this.open();
    if (started === undefined) return true;
    if (started === null) return false;
    const t0 = performance.now();
    if (
      this.attempt(() => {
        while (!started.capture.step());
      }) === null
    )
      return (started.capture.abort(), false);
    this.observe('slice', t0);
    return this.commit(started);
  }

  /** Stops the periodic checkpoints (and drops a sliced one in progress); the caller takes the final one. */
  stop(): void {
    this.stopped = true;
    this.drop();
    for (const h of [this.timer, this.soon]) if (h !== undefined) this.o.timers.clearTimeout(h);
    this.timer = this.soon = undefined;
  }

  private schedule(): void {
    this.timer = this.o.timers.setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.begin();
      this.schedule();
    }, this.o.intervalMs);
  }

  /**
   * Counts a pause of a periodic checkpoint into gateway_checkpoint_pause_max_seconds (the turns measured here;
   * public so that a pause measured elsewhere can be added).
   */
  notePause(seconds: number): void {
    if (seconds <= this.longest) return;
    this.longest = seconds;
    this.o.metrics.checkpointPauseMax.set(seconds);
  }

  /** Begins a sliced checkpoint (unless one is running: then another follows it). */
  private begin(): void {
    if (this.running !== undefined || this.saving !== undefined) {
      this.again = true;
      return;
    }
    const t0 = performance.now();
    const started = this.open(true);
    if (started === undefined || started === null) return;
    this.running = started;
    this.continue(t0, 'begin');
  }

  /**
   * One turn of the sliced checkpoint: the sealed windows' commit if it is due, else a slice (held, with what
   * the turn did before it, to `sliceMs`, at least one step); then the next turn, or the save. `turn` is when
   * this event-loop turn's work began.
   */
  private continue(turn = performance.now(), phase: Turn = 'slice'): void {
    const run = this.running!;
    let ok = true;
    let late = false;
    if (phase === 'slice' && run.commitSealed !== undefined) {
      // Turns of its own, and all before the save: a checkpoint never covers a window only in memory.
      const done = this.sliced(turn, 'outbox', run.commitSealed);
      ok = done !== null;
      if (done === true) run.commitSealed = undefined;
      phase = 'outbox';
    } else if (!run.stepped) {
      const done = this.sliced(turn, 'slice', () => run.capture.step());
      ok = done !== null;
      run.stepped = done === true;
      // The finish and hand-over (~0.5-2.5 ms at 100k sensors) get a turn of their own when this one has spent
      // half its slice (sliceMs 0: one step a turn, the finish right after the last).
      const sliceMs = this.o.sliceMs ?? 1;
      late = sliceMs > 0 && performance.now() - turn > sliceMs / 2;
    }
    // Another turn unless every step is taken, every sealed window committed, and this turn (not an outbox one,
    // not one past half its slice) has room for the finish and hand-over.
    const more = !run.stepped || run.commitSealed !== undefined || phase === 'outbox' || late;
    if (ok && more) {
      this.turned(phase, turn);
      this.slice = this.o.timers.setTimeout(() => {
        this.slice = undefined;
        this.continue();
      }, this.o.sliceGapMs ?? 4);
      return;
    }
    this.running = undefined;
    if (!ok) run.capture.abort();
    else this.commit(run, true);
    this.turned(phase === 'begin' || !ok ? phase : 'finish', turn);
    if (this.saving === undefined) this.followUp();
  }

  /**
   * Runs `piece` until it returns true (done) or the turn, begun at `turn`, has taken `sliceMs` (at least once);
   * null when it threw (logged, counted).
   */
  private sliced(turn: number, phase: 'outbox' | 'slice', piece: () => boolean): boolean | null {
    const t0 = performance.now();
    const budget = (this.o.sliceMs ?? 1) - (t0 - turn);
    const done = this.attempt(() => {
      let last: boolean;
      do last = piece();
      while (!last && performance.now() - t0 < budget);
      return last;
    });
    this.observe(phase, t0);
    return done;
  }

  /** Counts one event-loop turn of a periodic checkpoint (gateway_checkpoint_turn_seconds and the pause max). */
  private turned(phase: Turn, since: number): void {
    const seconds = (performance.now() - since) / 1000;
    this.o.metrics.checkpointTurnSeconds.observe({ phase }, seconds);
    this.notePause(seconds);
  }

  /** A checkpoint asked for while one ran: now. */
  private followUp(): void {
    if (this.again && !this.stopped) {
      this.again = false;
      this.request();
    }
  }

  /**
   * Starts a capture and commits the windows emitted so far (`sliced` with `sealEmitted`: seals them, committed
   * by a later turn): undefined when there is nothing new to save, null when it failed.
   */
  private open(sliced = false): Run | undefined | null {
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
  private commit(run: Run, async = false): boolean {
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
    this.followUp();
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
  private attempt<T>(f: () => T): T | null {
    try {
      return f();
    } catch (err) {
      this.o.metrics.checkpoints.inc({ result: 'failed' });
      this.o.logger.error({ err }, 'checkpoint failed: the ingest log is kept (and bounds PUBACKs) until one succeeds');
      return null;
    }
  }

  private drop(): void {
    if (this.slice !== undefined) this.o.timers.clearTimeout(this.slice);
    this.slice = undefined;
    this.running?.capture.abort();
    this.running = undefined;
  }

  private observe(phase: 'capture' | 'outbox' | 'slice' | 'save' | 'write', since: number): void {
    this.o.metrics.checkpointSeconds.observe({ phase }, (performance.now() - since) / 1000);
  }
}

import type { TimerHandle } from '../time/timers.js';
import { CheckpointSaver, type Run } from './checkpoint-saver.js';
import type { CheckpointerOptions } from './checkpointer-options.js';

export type { CheckpointerOptions, StateCapture } from './checkpointer-options.js';

/** The turns of a sliced checkpoint (gateway_checkpoint_turn_seconds{phase}). */
type Turn = 'begin' | 'outbox' | 'slice' | 'finish';

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
 * Opening a checkpoint and saving it: checkpoint-saver.ts.
 */
export class Checkpointer {
  private timer: TimerHandle | undefined;
  private soon: TimerHandle | undefined;
  private slice: TimerHandle | undefined;
  /** The sliced capture in progress, if any. */
  private running: Run | undefined;
  /** Opens and saves each checkpoint, and counts it. */
  private readonly save: CheckpointSaver;
  /** A checkpoint was asked for while one was running: another follows it. */
  private again = false;
  private stopped = false;
  /** Longest event-loop turn of a periodic checkpoint so far, seconds (gateway_checkpoint_pause_max_seconds). */
  private longest = 0;
  /** `o.waited()` when the present turn began. */
  private waitedAt = 0;

  constructor(private readonly o: CheckpointerOptions) {
    this.save = new CheckpointSaver(o, () => this.followUp());
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Coalesced: a checkpoint begins on the next turn of the event loop, not inside the caller's stack. */
  request(): void {
    if (this.stopped) return;
    if (this.running !== undefined || this.save.writing) {
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
    const started = this.save.open();
    if (started === undefined) return true;
    if (started === null) return false;
    const t0 = performance.now();
    if (
      this.save.attempt(() => {
        while (!started.capture.step());
      }) === null
    )
      return (started.capture.abort(), false);
    this.save.observe('slice', t0);
    return this.save.commit(started);
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
    if (this.running !== undefined || this.save.writing) {
      this.again = true;
      return;
    }
    const t0 = this.turnBegins();
    const started = this.save.open(true);
    if (started === undefined || started === null) return;
    this.running = started;
    this.continue(t0, 'begin');
  }

  /**
   * One turn of the sliced checkpoint: the sealed windows' commit if it is due, else a slice (held, with what
   * the turn did before it, to `sliceMs`, at least one step); then the next turn, or the save. `turn` is when
   * this event-loop turn's work began.
   */
  private continue(turn: number, phase: Turn = 'slice'): void {
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
        this.continue(this.turnBegins());
      }, this.o.sliceGapMs ?? 4);
      return;
    }
    this.running = undefined;
    if (!ok) run.capture.abort();
    else this.save.commit(run, true);
    this.turned(phase === 'begin' || !ok ? phase : 'finish', turn);
    if (!this.save.writing) this.followUp();
  }

  /**
   * Runs `piece` until it returns true (done) or the turn, begun at `turn`, has taken `sliceMs` (at least once);
   * null when it threw (logged, counted).
   */
  private sliced(turn: number, phase: 'outbox' | 'slice', piece: () => boolean): boolean | null {
    const t0 = performance.now();
    const budget = (this.o.sliceMs ?? 1) - (t0 - turn);
    const done = this.save.attempt(() => {
      let last: boolean;
      do last = piece();
      while (!last && performance.now() - t0 < budget);
      return last;
    });
    this.save.observe(phase, t0);
    return done;
  }

  /** The start of a turn of a periodic checkpoint: performance.now(), and the waits for a core so far. */
  private turnBegins(): number {
    if (this.o.waited !== undefined) this.waitedAt = this.o.waited();
    return performance.now();
  }

  /**
   * Counts one event-loop turn of a periodic checkpoint (gateway_checkpoint_turn_seconds and the pause max), and
   * with `waited` the same turn less the waits for a core inside it (gateway_checkpoint_turn_running_seconds).
   */
  private turned(phase: Turn, since: number): void {
    const seconds = (performance.now() - since) / 1000;
    this.o.metrics.checkpointTurnSeconds.observe({ phase }, seconds);
    if (this.o.waited !== undefined) {
      const running = seconds - (this.o.waited() - this.waitedAt) / 1000;
      this.o.metrics.checkpointTurnRunningSeconds.observe({ phase }, running > 0 ? running : 0);
    }
    this.notePause(seconds);
  }

  /** A checkpoint asked for while one ran: now. */
  private followUp(): void {
    if (this.again && !this.stopped) {
      this.again = false;
      this.request();
    }
  }

  private drop(): void {
    if (this.slice !== undefined) this.o.timers.clearTimeout(this.slice);
    this.slice = undefined;
    this.running?.capture.abort();
    this.running = undefined;
  }
}

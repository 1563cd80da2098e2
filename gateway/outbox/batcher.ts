import type { Timers, TimerHandle } from '../time/timers.js';

/** One closed batch, ready to commit. */
export interface ClosedBatch {
  readonly lines: string[];
  readonly minTime: number;
  readonly maxTime: number;
}

/**
 * Collects formatted lines into one open batch and hands it to `commit` when it holds `batchSize` lines or
 * when `flushIntervalMs` has passed on the gateway clock since its first line. The open batch (and the batches
 * sealed from it, not yet committed) is the only data the outbox keeps in memory; everything committed is on disk.
 *
 * `seal()` closes the open batch without committing it (a checkpoint's beginning: cheap), `commitSealed()` commits
 * what was sealed (the checkpoint's next turns, in pieces: a commit's cost grows faster than its lines, 5,000 lines
 * ~6 ms against 500 lines ~0.34 ms, BENCHMARKS.md). Batches are committed in the order their lines were added, sealed
 * ones first, whatever commits them: a window corrected later is a later line for the same point, and the later
 * write must win in InfluxDB.
 */
export class Batcher {
  private lines: string[] = [];
  private minTime = Infinity;
  private maxTime = -Infinity;
  private timer: TimerHandle | undefined;
  private readonly sealed: ClosedBatch[] = [];
  private sealedLines = 0;

  constructor(
    private readonly batchSize: number,
    private readonly flushIntervalMs: number,
    private readonly timers: Timers,
    private readonly commit: (batch: ClosedBatch) => void,
  ) {}

  /** Lines not yet committed (open and sealed). */
  get size(): number {
    return this.lines.length + this.sealedLines;
  }

  add(line: string, time: number): void {
    this.lines.push(line);
    if (time < this.minTime) this.minTime = time;
    if (time > this.maxTime) this.maxTime = time;
    if (this.lines.length >= this.batchSize) this.flush();
    else if (this.timer === undefined) this.timer = this.timers.setTimeout(() => this.onTimer(), this.flushIntervalMs);
  }

  /**
   * Closes the open batch without committing it (no-op when empty). The flush timer keeps running, so a sealed
   * batch is committed at the latest when the open batch would have been.
   */
  seal(): void {
    if (this.lines.length === 0) return;
    this.sealedLines += this.lines.length;
    this.sealed.push(this.take());
  }

  /**
   * Commits the sealed batches, oldest first; with `maxLines`, only the next piece of at most that many lines
   * (a batch's first lines, as a batch of their own: they keep the batch's time range, which holds theirs).
   * True when nothing sealed is left.
   */
  commitSealed(maxLines = Infinity): boolean {
    while (this.sealed.length > 0) {
      const b = this.sealed[0]!;
      if (b.lines.length > maxLines) {
        this.sealedLines -= maxLines;
        this.commit({ lines: b.lines.splice(0, maxLines), minTime: b.minTime, maxTime: b.maxTime });
        return false;
      }
      this.sealed.shift();
      this.sealedLines -= b.lines.length;
      this.commit(b);
      if (maxLines !== Infinity) return this.sealed.length === 0;
    }
    return true;
  }

  /** Commits the sealed batches and the open batch now (no-op when empty). */
  flush(): void {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.commitSealed();
    if (this.lines.length > 0) this.commit(this.take());
  }

  /** Stops the timer without committing (close() flushes first). */
  dispose(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private take(): ClosedBatch {
    const batch: ClosedBatch = { lines: this.lines, minTime: this.minTime, maxTime: this.maxTime };
    this.lines = [];
    this.minTime = Infinity;
    this.maxTime = -Infinity;
    return batch;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.flush();
  }
}

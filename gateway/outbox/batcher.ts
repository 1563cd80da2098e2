import type { Timers, TimerHandle } from '../time/timers.js';

/** One closed batch, ready to commit. */
export interface ClosedBatch {
  readonly lines: string[];
  readonly minTime: number;
  readonly maxTime: number;
}

/**
 * Collects formatted lines into one open batch and hands it to `commit` when it holds `batchSize` lines or
 * when `flushIntervalMs` has passed on the gateway clock since its first line. The open batch is the only
 * data the outbox keeps in memory; everything committed is on disk.
 */
export class Batcher {
  private lines: string[] = [];
  private minTime = Infinity;
  private maxTime = -Infinity;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly batchSize: number,
    private readonly flushIntervalMs: number,
    private readonly timers: Timers,
    private readonly commit: (batch: ClosedBatch) => void,
  ) {}

  get size(): number {
    return this.lines.length;
  }

  add(line: string, time: number): void {
    this.lines.push(line);
    if (time < this.minTime) this.minTime = time;
    if (time > this.maxTime) this.maxTime = time;
    if (this.lines.length >= this.batchSize) this.flush();
    else if (this.timer === undefined) this.timer = this.timers.setTimeout(() => this.onTimer(), this.flushIntervalMs);
  }

  /** Commits the open batch now (no-op when empty). */
  flush(): void {
    if (this.timer !== undefined) {
      this.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.lines.length === 0) return;
    const batch: ClosedBatch = { lines: this.lines, minTime: this.minTime, maxTime: this.maxTime };
    this.lines = [];
    this.minTime = Infinity;
    this.maxTime = -Infinity;
    this.commit(batch);
  }

  /** Stops the timer without committing (close() flushes first). */
  dispose(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private onTimer(): void {
    this.timer = undefined;
    this.flush();
  }
}

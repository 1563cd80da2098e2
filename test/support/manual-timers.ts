import type { Timers } from '../../gateway/time/timers.js';

/** A gateway clock that moves only when the test sets or advances it (no timers: see ManualTimers). */
export function manualClock(start = 1_000_000): { now: () => number; set: (t: number) => void; advance: (ms: number) => number } {
  let t = start;
  return { now: () => t, set: (v) => (t = v), advance: (ms) => (t += ms) };
}

/** Timers driven by the test: `advance(ms)` fires due timers in time order, letting promises settle between. */
export class ManualTimers implements Timers {
  private t = 0;
  private seq = 0;
  private pending = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now = (): number => this.t;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.pending.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  };

  clearTimeout = (h: unknown): void => {
    this.pending.delete(h as number);
  };

  get timerCount(): number {
    return this.pending.size;
  }

  async settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  }

  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    await this.settle();
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.pending) if (e[1].at <= until && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
      await this.settle();
    }
    this.t = until;
    await this.settle();
  }
}

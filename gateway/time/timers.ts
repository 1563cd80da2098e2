/**
 * The outbox's view of time: the gateway clock plus one-shot timers, injected so unit tests drive time.
 * Only the composition root passes `systemTimers`.
 */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = unknown;

export const systemTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending flush or retry must not keep the process alive after a graceful stop.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Resolves after `ms` on the injected timers, or at once when `signal` fires. Never rejects. */
export function sleep(timers: Timers, ms: number, signal?: { onWake(fn: () => void): () => void }): Promise<void> {
  return new Promise((resolve) => {
    let off = () => {};
    const h = timers.setTimeout(
      () => {
        off();
        resolve();
      },
      Math.max(0, ms),
    );
    if (signal) {
      off = signal.onWake(() => {
        timers.clearTimeout(h);
        off();
        resolve();
      });
    }
  });
}

/** A wake-up line: waiters register, `wake()` calls them all once. Used to stop sleeps early. */
export class Wakeup {
  private waiters = new Set<() => void>();

  onWake(fn: () => void): () => void {
    this.waiters.add(fn);
    return () => this.waiters.delete(fn);
  }

  wake(): void {
    const list = [...this.waiters];
    this.waiters.clear();
    for (const fn of list) fn();
  }
}

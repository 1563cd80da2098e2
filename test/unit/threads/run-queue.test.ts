import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { runQueueWaitClock } from '../../../gateway/threads/run-queue.js';

/**
 * The calling thread's waits for a core (/proc/thread-self/schedstat, run_delay): a clock that only moves on, per
 * thread, and that moves while more threads are runnable than there are cores.
 */
const linux = process.platform === 'linux';

/** `n` worker threads that each spin on a core for `ms`, resolved when all have started. */
async function spinners(n: number, ms: number): Promise<Worker[]> {
  const ws = Array.from(
    { length: n },
    () => new Worker(`require('node:worker_threads').parentPort.postMessage('on'); const end = Date.now() + ${ms}; while (Date.now() < end);`, { eval: true }),
  );
  await Promise.all(ws.map((w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject)))));
  return ws;
}

describe.runIf(linux)('run-queue wait clock', () => {
  it('is one clock per thread, in ms, that never goes back', () => {
    const clock = runQueueWaitClock();
    expect(clock).toBeTypeOf('function');
    expect(runQueueWaitClock()).toBe(clock);
    let last = clock!();
    expect(last).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < 1000; i++) {
      const now = clock!();
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
    // The second field of the file, in ms: between two reads of it by this thread.
    const field = () => Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[1]) / 1e6;
    const a = field();
    const b = clock!();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(b).toBeLessThanOrEqual(field());
  });

  it('moves while this thread shares the cores with more runnable threads than there are', async () => {
    const clock = runQueueWaitClock()!;
    // One spinning thread per core besides this one, which spins too: someone waits, this thread among them.
    const ws = await spinners(Math.min(availableParallelism(), 16), 1500);
    try {
      const before = clock();
      const end = Date.now() + 500;
      while (Date.now() < end);
      expect(clock() - before).toBeGreaterThan(0);
    } finally {
      await Promise.all(ws.map((w) => w.terminate()));
    }
  });
});

import { readdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { niceHelperThreads } from '../../../gateway/runtime.js';
import { backgroundThread, currentThreadId, niceThread, otherThreads, threadNice, THREAD_ID_EXPRESSION } from '../../../gateway/threads/priority.js';

/**
 * Per-thread nice values (setpriority(2) on a Linux thread id): set on one thread, read back from
 * /proc/<pid>/task/<tid>/stat, and every failure an outcome rather than a throw.
 */
const linux = process.platform === 'linux';
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

/** A worker thread that reports its kernel id with the expression the eval'd workers use, and then idles. */
async function idleWorker(): Promise<number | undefined> {
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.postMessage({ tid: ${THREAD_ID_EXPRESSION} });
     setInterval(() => {}, 1000);`,
    { eval: true },
  );
  workers.push(w);
  return new Promise((resolve, reject) => {
    w.once('message', (m: { tid: number | undefined }) => resolve(m.tid));
    w.once('error', reject);
  });
}

describe.runIf(linux)('thread priority on Linux', () => {
  it('knows the calling thread: the main thread is the process id, a worker one of its tasks', async () => {
    expect(currentThreadId()).toBe(process.pid);
    const tid = await idleWorker();
    expect(tid).not.toBe(process.pid);
    expect(readdirSync('/proc/self/task')).toContain(String(tid));
  });

  it('raises the nice value of that one thread only', async () => {
    const tid = await idleWorker();
    const mainBefore = threadNice(process.pid, process.pid);
    expect(threadNice(process.pid, tid!)).toBe(mainBefore);
    expect(niceThread(tid, 10)).toEqual({ ok: true });
    expect(threadNice(process.pid, tid!)).toBe(10);
    expect(threadNice(process.pid, process.pid)).toBe(mainBefore);
  });

  it('backgroundThread() applies the configured value, and leaves the thread alone at 0', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = { debug: (o: Record<string, unknown>) => void lines.push(o) };
    const a = await idleWorker();
    const b = await idleWorker();
    backgroundThread('a', 7, log)(a);
    backgroundThread('b', 0, log)(b);
    expect(threadNice(process.pid, a!)).toBe(7);
    expect(threadNice(process.pid, b!)).toBe(threadNice(process.pid, process.pid));
    expect(lines).toEqual([{ thread: 'a', tid: a, nice: 7 }]);
  });

  it('niceHelperThreads() sets every listed thread, and names the ones it could not', async () => {
    const a = await idleWorker();
    expect(otherThreads()).toContain(a);
    expect(otherThreads()).not.toContain(process.pid);
    const gone = 2 ** 22 + 54321;
    const lines: Record<string, unknown>[] = [];
    niceHelperThreads([a!, gone], 11, { debug: (o: Record<string, unknown>) => void lines.push(o) });
    expect(threadNice(process.pid, a!)).toBe(11);
    expect(lines).toEqual([{ nice: 11, threads: 1, failed: [{ tid: gone, reason: expect.any(String) }] }]);
    niceHelperThreads([a!], 0, { debug: (o: Record<string, unknown>) => void lines.push(o) });
    expect(lines).toHaveLength(1);
  });

  it('fails soft: an unknown thread id is an outcome with the reason, not a throw, and logged', () => {
    const gone = 2 ** 22 + 12345; // above the kernel's pid_max default: no such thread
    const r = niceThread(gone, 10);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/ESRCH|no such/i);
    expect(niceThread(undefined, 10)).toEqual({ ok: false, reason: expect.stringMatching(/unknown/) });
    const lines: Record<string, unknown>[] = [];
    backgroundThread('x', 10, { debug: (o: Record<string, unknown>) => void lines.push(o) })(gone);
    expect(lines).toEqual([expect.objectContaining({ thread: 'x', nice: 10, reason: expect.any(String) })]);
    expect(threadNice(process.pid, gone)).toBeUndefined();
  });
});

describe.skipIf(linux)('thread priority elsewhere', () => {
  it('has no thread id and says why it leaves the priority alone', () => {
    expect(currentThreadId()).toBeUndefined();
    expect(niceThread(1, 10).ok).toBe(false);
  });
});

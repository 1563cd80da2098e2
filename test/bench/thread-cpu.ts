/**
 * CPU seconds of each thread of a process (Linux: /proc/<pid>/task/<tid>/stat, utime + stime at 100 Hz), so a
 * profile run can say what one reading costs on the gateway's thread and on its broker thread apart. Node
 * names no OS thread after a worker: the main thread is the task whose id is the pid, and the busiest other
 * JavaScript thread under load is the broker thread; V8's and libuv's helpers are summed as `other`.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type ThreadTimes = ReadonlyMap<number, { readonly comm: string; readonly cpu: number; readonly wakeups: number }>;

export function threadTimes(pid: number): ThreadTimes {
  const out = new Map<number, { comm: string; cpu: number; wakeups: number }>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A voluntary context switch is a sleep (epoll, futex) that something ended: one wake-up of the thread.
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const wakeups = Number(/voluntary_ctxt_switches:\s*(\d+)/.exec(status)?.[1] ?? 0);
      out.set(Number(tid), { comm, cpu: (Number(f[11]) + Number(f[12])) / 100, wakeups });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

export interface ThreadSplit {
  readonly main: number;
  /** The busiest thread after the main one (the worker's JavaScript thread under load). */
  readonly broker: number;
  readonly other: number;
  /** Wake-ups (voluntary context switches) of the main and the broker thread: steadier than CPU on a busy machine. */
  readonly mainWakeups: number;
  readonly brokerWakeups: number;
  /** `other` by thread name (V8 workers, libuv's pool, the inspector's sampler...). */
  readonly others: ReadonlyMap<string, number>;
}

/** CPU seconds per thread between two readings of `threadTimes`. */
export function threadSplit(pid: number, a: ThreadTimes, b: ThreadTimes): ThreadSplit {
  let main = 0;
  let mainWakeups = 0;
  let other = 0;
  const others = new Map<string, number>();
  const workers: [string, number, number][] = [];
  for (const [tid, t] of b) {
    const d = t.cpu - (a.get(tid)?.cpu ?? 0);
    const w = t.wakeups - (a.get(tid)?.wakeups ?? 0);
    if (tid === pid) {
      main = d;
      mainWakeups = w;
    } else workers.push([t.comm, d, w]);
  }
  // The broker thread is the busiest one after the main thread; the rest are V8's and libuv's helpers.
  workers.sort((x, y) => y[1] - x[1]);
  const broker = workers[0]?.[1] ?? 0;
  const brokerWakeups = workers[0]?.[2] ?? 0;
  for (const [comm, d] of workers.slice(1)) {
    other += d;
    others.set(comm, (others.get(comm) ?? 0) + d);
  }
  return { main, broker, other, others, mainWakeups, brokerWakeups };
}

/**
 * Time a process's threads ran and time they were runnable but waiting for a core, ns, summed over its threads
 * (/proc/<pid>/task/<tid>/schedstat: run, run-queue wait, timeslices). The wait is what a latency probe pays on a
 * machine whose cores are busy: a wake-up that finds no free core queues behind whatever runs.
 */
export function schedTotals(pid: number): { readonly runNs: number; readonly waitNs: number } {
  let runNs = 0;
  let waitNs = 0;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    // the process ended
  }
  for (const tid of tids) {
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      runNs += run ?? 0;
      waitNs += wait ?? 0;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { runNs, waitNs };
}

/** Busy and total jiffies of all cores (/proc/stat's first line): busy = everything but idle and iowait. */
export function machineJiffies(): { readonly busy: number; readonly total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Logger } from '../log.js';

/**
 * Scheduling priority of single threads. On Linux the nice value belongs to a THREAD, not to the process
 * (setpriority(2), NOTES: "a call to setpriority() with PRIO_PROCESS and the thread ID of a thread affects only
 * that thread"), and os.setPriority(tid, n) is that call. A thread at nice 10 gets ~1/10 of the CPU a nice-0
 * thread gets while both are runnable (sched(7), the CFS weights), and all of it when the core is free: work that
 * may wait (a checkpoint's commit, a WAL copy) then yields the core to the broker and gateway threads.
 *
 * Meant to RAISE a nice value: any user may, while a value below the thread's present one needs CAP_SYS_NICE
 * (sched(7), "The nice value") and is refused without it (a process started at nice 15 keeps its 15). Everything
 * fails soft: elsewhere than Linux, or where the call is refused, the thread keeps its priority and the caller
 * logs why.
 */

/** The calling thread's kernel id: /proc/thread-self is a link to "<pid>/task/<tid>" (proc(5)); undefined off Linux. */
export function currentThreadId(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * currentThreadId() as an expression for the source of an eval'd CommonJS worker (checkpoint-writer.ts,
 * wal-copier.ts), which cannot import this module: the worker posts its id to the thread that owns it.
 */
export const THREAD_ID_EXPRESSION = `(() => {
  if (process.platform !== 'linux') return undefined;
  try { const t = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()); return t > 0 ? t : undefined; }
  catch { return undefined; }
})()`;

export type NiceOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Sets thread `tid` (of this process) to nice `nice` (1-19). Never throws: `{ ok: false, reason }` when the
 * platform has no per-thread priority, the id is unknown, or the kernel refused (EACCES/EPERM, ESRCH).
 */
export function niceThread(tid: number | undefined, nice: number): NiceOutcome {
  if (process.platform !== 'linux') return { ok: false, reason: `per-thread nice values need Linux (${process.platform})` };
  if (tid === undefined) return { ok: false, reason: 'thread id unknown (/proc/thread-self unreadable)' };
  try {
    setPriority(tid, nice);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The nice value of thread `tid` of process `pid` as the kernel reports it (proc(5), /proc/<pid>/task/<tid>/stat,
 * field 19), or undefined when there is no such thread or no /proc. Tests and diagnostics.
 */
export function threadNice(pid: number, tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Field 2 (comm) is in parentheses and may hold spaces: count from the last ')'. Field 3 is the first after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const nice = Number(fields[19 - 3]);
    return Number.isInteger(nice) ? nice : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The `onThread` callback of a background worker (the checkpoint writer, the WAL copier): puts its thread at nice
 * `nice` (runtime.backgroundThreadNice; 0 leaves it), and says at debug level what came of it.
 */
export function backgroundThread(name: string, nice: number, log: Pick<Logger, 'debug'>): (tid: number | undefined) => void {
  return (tid) => {
    if (nice <= 0) return;
    const r = niceThread(tid, nice);
    if (r.ok) log.debug({ thread: name, tid, nice }, 'background thread at a lower scheduling priority');
    else log.debug({ thread: name, tid, nice, reason: r.reason }, 'background thread priority left as it was');
  };
}

/**
 * The threads of this process other than the calling one, read from /proc/self/task (proc(5)); [] off Linux.
 * Called first thing in main, before any worker starts, these are Node's and V8's helpers: the platform pool that
 * runs V8's background tasks (concurrent marking, parallel scavenge helpers, the optimising compiler), its
 * delayed-task scheduler and libuv's thread pool, none of which runs JavaScript.
 */
export function otherThreads(): number[] {
  if (process.platform !== 'linux') return [];
  const self = currentThreadId();
  try {
    return readdirSync('/proc/self/task')
      .map(Number)
      .filter((t) => Number.isInteger(t) && t !== self);
  } catch {
    return [];
  }
}

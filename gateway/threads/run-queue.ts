import { closeSync, openSync, readSync } from 'node:fs';

/**
 * How long the calling thread has waited for a core, in ms: the second field of /proc/thread-self/schedstat,
 * run_delay, "time spent waiting on a runqueue" in ns (the kernel's Documentation/scheduler/sched-stats.rst,
 * "/proc/<pid>/schedstat"). The kernel adds a wait to it when the thread is scheduled in again, so two reads by the
 * running thread bracket exactly the waits between them: an event-loop turn of 5 ms that holds 4 ms of waits ran
 * for 1 ms, and the other 4 belong to whatever else had the cores (other threads, other processes, the host).
 *
 * The file is opened once per thread, by the thread the clock is for (/proc/thread-self names the opener; every
 * worker has its own instance of this module, so the clock kept here is the calling thread's), and read with a
 * positioned read of a few dozen bytes (~1 us). Linux only: undefined elsewhere, or when the file cannot be opened
 * or does not read as expected (a kernel without CONFIG_SCHED_INFO).
 */
export function runQueueWaitClock(): (() => number) | undefined {
  if (clock === undefined) clock = open() ?? null;
  return clock ?? undefined;
}

let clock: (() => number) | null | undefined;

function open(): (() => number) | undefined {
  if (process.platform !== 'linux') return undefined;
  let fd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
  } catch {
    return undefined;
  }
  const buf = Buffer.alloc(96);
  const read = (): number => {
    const n = readSync(fd, buf, 0, buf.length, 0);
    // "<run ns> <run_delay ns> <timeslices>\n"
    let at = 0;
    while (at < n && buf[at] !== 0x20) at++;
    let ns = 0;
    for (at++; at < n && buf[at] !== 0x20; at++) ns = ns * 10 + (buf[at]! - 0x30);
    return ns / 1e6;
  };
  try {
    const first = read();
    if (!Number.isFinite(first) || first < 0) throw new Error('schedstat unreadable');
  } catch {
    closeSync(fd);
    return undefined;
  }
  return read;
}

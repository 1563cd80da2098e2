import { setFlagsFromString } from 'node:v8';
import type { GatewayConfig } from './config/schema.js';
import type { Logger } from './log.js';
import { niceThread } from './threads/priority.js';

/**
 * Process-wide settings of the JavaScript runtime, applied once at start before the state grows. An edge box
 * wants memory bounded more than the last few percent of speed: left alone, V8 lets the old generation grow to
 * several times the live state between full GCs (BENCHMARKS.md, memory). V8 reads this flag each time it sets
 * the next GC limit, so setting it after start takes effect.
 */
export function applyRuntimeSettings(runtime: GatewayConfig['runtime']): void {
  if (runtime.heapGrowthPercent > 0) setFlagsFromString(`--heap-growing-percent=${runtime.heapGrowthPercent}`);
}

/**
 * Puts Node's and V8's helper threads (`helpers`: threads/priority.ts otherThreads(), listed before the broker
 * thread started) at runtime.helperThreadNice. Their work (concurrent marking, the optimising compiler, parallel
 * GC tasks) comes in bursts in which, on two cores, the broker and gateway threads waited for a core
 * (BENCHMARKS.md, "The tail of publish -> alert"); at a higher nice value they take the cores those two leave.
 * Threads created later (libuv's pool on first use, the workers) inherit the nice value of the thread that
 * creates them, the gateway thread's. Fails soft: each thread not changed is in the debug line with the reason.
 */
export function niceHelperThreads(helpers: readonly number[], nice: number, log: Pick<Logger, 'debug'>): void {
  if (nice <= 0) return;
  if (helpers.length === 0) return log.debug({ nice, platform: process.platform }, 'no helper threads found to lower in priority');
  const failed: { tid: number; reason: string }[] = [];
  for (const tid of helpers) {
    const r = niceThread(tid, nice);
    if (!r.ok) failed.push({ tid, reason: r.reason });
  }
  log.debug({ nice, threads: helpers.length - failed.length, failed }, 'helper threads at a lower scheduling priority');
}

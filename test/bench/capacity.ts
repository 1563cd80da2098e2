/**
 * Paced capacity: the highest rate of one-publish-per-write QoS 0 load (many connections, as sensors send) at
 * which the probe's p99 stays under a bound: publish -> alert event for the gateway, publish -> delivery for a
 * bare broker. Found by search, not measured at a fixed rate:
 *  - up: from `startRate`, the rate doubles while a step passes;
 *  - down: then `bisections` halvings of the interval between the last passing and the first failing rate.
 * A step is a fresh server, WARMUP_MS of load (latency.ts), then `probes` probes 5 ms apart. It passes when the
 * p99 is under the bound, no probe is lost, and the server took at least 95 % of the rate asked (a generator or
 * server that falls behind does not pass by sending less). The generator's own ceiling is reported: a result at it is marked so.
 */
import { probeLatency, quantile, WARMUP_MS, withLoad, type LatencyMode } from './latency.js';
import type { ServerUnderTest } from './servers.js';
import { machineJiffies, schedTotals } from './thread-cpu.js';
import { sleep } from './throughput.js';

export interface CapacityStep {
  readonly rate: number;
  readonly msgPerSec: number;
  readonly cpu: number;
  readonly p99Ms: number;
  readonly lost: number;
  readonly pass: boolean;
  /** Share of all the machine's cores busy while the probes ran (generator, server, this process, the rest). */
  readonly machineBusy: number;
  /** ms per second the server's threads spent runnable but waiting for a core while the probes ran. */
  readonly waitMsPerS: number;
}

export interface CapacityFigures {
  readonly server: string;
  readonly mode: LatencyMode;
  readonly boundMs: number;
  /** Highest passing rate (0 when even the first step failed). */
  readonly rate: number;
  /** The lowest failing rate seen (Infinity when none failed up to `maxRate`). */
  readonly failedAt: number;
  readonly steps: CapacityStep[];
}

export interface CapacitySettings {
  readonly startRate: number;
  readonly maxRate: number;
  readonly bisections: number;
  readonly probes: number;
  readonly boundMs: number;
  readonly connections: number;
}

export const CAPACITY_DEFAULTS: CapacitySettings = {
  startRate: Number(process.env.BENCH_CAPACITY_START ?? 5000),
  maxRate: Number(process.env.BENCH_CAPACITY_MAX ?? 400_000),
  bisections: Number(process.env.BENCH_CAPACITY_BISECTIONS ?? 3),
  probes: Number(process.env.BENCH_CAPACITY_PROBES ?? 400),
  boundMs: 10,
  connections: Number(process.env.BENCH_CAPACITY_CONNECTIONS ?? 200),
};

export async function capacityStep(
  start: () => Promise<ServerUnderTest>,
  mode: LatencyMode,
  rate: number,
  s: CapacitySettings,
): Promise<CapacityStep & { server: string }> {
  let server = '';
  let machineBusy = NaN;
  let waitMsPerS = NaN;
  const run = await withLoad(
    start,
    rate,
    async (sut) => {
      server = sut.name;
      await sleep(WARMUP_MS);
      const [m0, s0, t0] = [machineJiffies(), sut.pid === undefined ? undefined : schedTotals(sut.pid), performance.now()];
      const probed = await probeLatency(sut, mode, s.probes, 5);
      const [m1, s1, t1] = [machineJiffies(), sut.pid === undefined ? undefined : schedTotals(sut.pid), performance.now()];
      machineBusy = (m1.busy - m0.busy) / Math.max(1, m1.total - m0.total);
      if (s0 !== undefined && s1 !== undefined) waitMsPerS = (s1.waitNs - s0.waitNs) / 1e6 / ((t1 - t0) / 1000);
      return probed;
    },
    { connections: s.connections, devices: Math.max(1000, s.connections * 5), perWrite: 1 },
  );
  const p99Ms = quantile(
    run.latencies.sort((a, b) => a - b),
    0.99,
  );
  const pass = run.lost === 0 && p99Ms < s.boundMs && run.msgPerSec >= 0.95 * rate;
  const r = { server, rate, msgPerSec: run.msgPerSec, cpu: run.cpu, p99Ms, lost: run.lost, pass, machineBusy, waitMsPerS };
  console.log(
    `  capacity ${server} at ${rate} msg/s paced: took ${Math.round(run.msgPerSec)} msg/s, CPU ${run.cpu.toFixed(2)}, p99 ${p99Ms.toFixed(2)} ms, ${run.lost} lost: ${pass ? 'pass' : 'fail'}` +
      ` (machine ${Math.round(machineBusy * 100)} % busy, server threads waited ${Math.round(waitMsPerS)} ms/s for a core)`,
  );
  return r;
}

export async function searchCapacity(
  start: () => Promise<ServerUnderTest>,
  mode: LatencyMode,
  s: CapacitySettings = CAPACITY_DEFAULTS,
): Promise<CapacityFigures> {
  const steps: CapacityStep[] = [];
  let server = '';
  let good = 0;
  let bad = Infinity;
  for (let rate = s.startRate; rate <= s.maxRate; rate *= 2) {
    const r = await capacityStep(start, mode, rate, s);
    server = r.server;
    steps.push(r);
    if (!r.pass) {
      bad = rate;
      break;
    }
    good = rate;
  }
  for (let i = 0; i < s.bisections && Number.isFinite(bad); i++) {
    const rate = Math.round((good + bad) / 2);
    const r = await capacityStep(start, mode, rate, s);
    steps.push(r);
    if (r.pass) good = rate;
    else bad = rate;
  }
  return { server, mode, boundMs: s.boundMs, rate: good, failedAt: bad, steps };
}

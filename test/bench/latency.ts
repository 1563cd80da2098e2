/**
 * Scenario 2: publish-to-alert-event latency under load, next to the same harness's floor on bare aedes.
 *
 * The generator holds the server at a fixed QoS 0 rate, paced every millisecond (one small write per connection,
 * like sensors that publish one reading at a time; see loadgen.ts). A probe client publishes every 20 ms:
 *  - gateway ('alert'): a reading of sensor `a` alternating 200 and 0, so rule `probe-hot` (above: 100) fires or
 *    resolves on every probe message; a subscriber on alerts/# matches each event to its probe by ts;
 *  - bare aedes or Mosquitto ('delivery'): the same payload on a plain topic, timed to its delivery to a
 *    subscriber: what the broker and this harness cost on their own, on this machine, at the same rate.
 * Probe and subscriber live in this process, so one clock times both ends. Both set TCP_NODELAY (as a sensor
 * that wants its readings to travel at once does; MQTT.js leaves Nagle on).
 *
 * "50 % load" needs care: the throughput maximum is measured with large writes (many publishes per TCP read),
 * while one publish per read costs the server several times more CPU per message. `calibrateHalfLoad` finds the
 * rate at which the paced load takes half of a core of the server, the load the target means.
 */
import type { Socket } from 'node:net';
import mqtt from 'mqtt';
import { startLoad, type LoadOptions } from './loadgen.js';
import type { ServerUnderTest } from './servers.js';
import { sleep } from './throughput.js';

export type LatencyMode = 'alert' | 'delivery';

export interface LatencyFigures {
  readonly server: string;
  readonly mode: LatencyMode;
  readonly rate: number;
  readonly label: string;
  /** Server CPU seconds per second while the probes ran (1 = one core busy). */
  readonly cpu: number;
  readonly msgPerSec: number;
  readonly samples: number;
  readonly lost: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const PROBE_DEVICE = 'probe-1';

/**
 * Load before anything is measured on a fresh server (BENCH_WARMUP_S, default 15 s; the same for every server):
 * the steady state, not the first seconds of a process. In its first ~10 s under load a fresh gateway's platform
 * threads are busy with what start-up leaves: TurboFan compiling the hot path again and again (the pipeline's
 * `one` 8 times, 6-36 ms each, as type feedback fills in), and major GCs while its heaps grow to their working
 * size. Probes then, 2 s after the start, had 4x the slow probes of probes after 15 s (BENCHMARKS.md, "Who had the
 * cores while the slow probes waited").
 */
export const WARMUP_MS = Number(process.env.BENCH_WARMUP_S ?? 15) * 1000;

/** Paced load on a fresh server: 50 connections by default; `load` overrides (the capacity search: more connections, one publish per write). */
export async function withLoad<T>(
  start: () => Promise<ServerUnderTest>,
  rate: number,
  body: (server: ServerUnderTest) => Promise<T>,
  loadOverrides: Partial<LoadOptions> = {},
): Promise<T> {
  const server = await start();
  try {
    const load = await startLoad({
      port: server.mqttPort,
      connections: 50,
      devices: 1000,
      qos: 0,
      rate,
      t0: Date.now() - 86_400_000,
      stepMs: 100,
      ...loadOverrides,
    });
    try {
      return await body(server);
    } finally {
      await load.stop();
    }
  } finally {
    await server.stop();
  }
}

/** Server CPU per second and msg/s over `ms` of the running load. */
async function utilisation(server: ServerUnderTest, ms: number): Promise<{ cpu: number; msgPerSec: number }> {
  const s0 = await server.sample();
  const t0 = performance.now();
  await sleep(ms);
  const s1 = await server.sample();
  const secs = (performance.now() - t0) / 1000;
  return { cpu: (s1.cpuSeconds - s0.cpuSeconds) / secs, msgPerSec: (s1.messages - s0.messages) / secs };
}

/**
 * The paced rate at which the server's CPU is ~50 % of a core: measured at `probeRate`, then scaled linearly
 * and measured again until the CPU is within 10 % of half a core (at most four measurements; CPU per message
 * falls as the rate rises, more so with the broker on its own thread, so one step is not enough). Returns the
 * measured rate closest to half a core.
 */
export async function calibrateHalfLoad(start: () => Promise<ServerUnderTest>, probeRate: number): Promise<{ rate: number; cpu: number }> {
  let rate = probeRate;
  let best = { rate, cpu: 0 };
  for (let step = 0; step < 4; step++) {
    const cpu = await withLoad(start, rate, async (server) => {
      await sleep(WARMUP_MS);
      return (await utilisation(server, 4000)).cpu;
    });
    if (cpu <= 0) break;
    if (best.cpu === 0 || Math.abs(cpu - 0.5) < Math.abs(best.cpu - 0.5)) best = { rate, cpu };
    if (Math.abs(cpu - 0.5) <= 0.05) break;
    rate = Math.round((rate * 0.5) / cpu);
  }
  return best;
}

export interface ProbeRun {
  /** publish -> alert (or delivery) of each matched probe, ms, unsorted. */
  readonly latencies: number[];
  readonly lost: number;
  /** Server CPU seconds per second and publishes per second over the probes. */
  readonly cpu: number;
  readonly msgPerSec: number;
}

/**
 * `probes` probe publishes `intervalMs` apart on a server under load, each timed to its alert event (gateway) or
 * its delivery (bare broker); probe and subscriber in this process, with TCP_NODELAY.
 */
export async function probeLatency(server: ServerUnderTest, mode: LatencyMode, probes: number, intervalMs: number): Promise<ProbeRun> {
  const url = `mqtt://127.0.0.1:${server.mqttPort}`;
  const sub = await mqtt.connectAsync(url, { clientId: 'bench-alerts' });
  const probe = await mqtt.connectAsync(url, { clientId: 'bench-probe' });
  for (const c of [sub, probe]) (c.stream as unknown as Socket).setNoDelay(true);
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  const [subTopic, pubTopic] = mode === 'alert' ? ['alerts/#', `devices/${PROBE_DEVICE}/telemetry`] : ['bench-probe/#', 'bench-probe/x'];
  sub.on('message', (topic, payload) => {
    if (mode === 'alert' && !topic.startsWith(`alerts/${PROBE_DEVICE}/`)) return;
    const now = performance.now();
    const ts = (JSON.parse(payload.toString()) as { ts: number }).ts;
    const t = sentAt.get(ts);
    if (t !== undefined) {
      latencies.push(now - t);
      sentAt.delete(ts);
    }
  });
  await sub.subscribeAsync(subTopic, { qos: 0 });
  try {
    await sleep(200);
    const s0 = await server.sample();
    const w0 = performance.now();
    // Event times an hour back, 1 s apart per probe: new to dedup on the fresh server each run starts.
    const t0 = Date.now() - 3_600_000;
    for (let k = 0; k < probes; k++) {
      const ts = t0 + k * 1000;
      sentAt.set(ts, performance.now());
      probe.publish(pubTopic, `{"ts":${ts},"readings":{"a":${k % 2 === 0 ? 200 : 0}}}`, { qos: 0 });
      await sleep(intervalMs);
    }
    const s1 = await server.sample();
    const secs = (performance.now() - w0) / 1000;
    await sleep(1000);
    return { latencies, lost: sentAt.size, cpu: (s1.cpuSeconds - s0.cpuSeconds) / secs, msgPerSec: (s1.messages - s0.messages) / secs };
  } finally {
    await Promise.all([sub.endAsync(true), probe.endAsync(true)]);
  }
}

export async function runLatency(
  start: () => Promise<ServerUnderTest>,
  rate: number,
  label: string,
  mode: LatencyMode,
  probes = Number(process.env.BENCH_PROBES ?? 1000),
): Promise<LatencyFigures> {
  let serverName = '';
  const run = await withLoad(start, rate, async (server) => {
    serverName = server.name;
    await sleep(WARMUP_MS);
    return probeLatency(server, mode, probes, 20);
  });
  const sorted = run.latencies.sort((a, b) => a - b);
  const figures: LatencyFigures = {
    server: serverName,
    mode,
    rate,
    label,
    cpu: run.cpu,
    msgPerSec: run.msgPerSec,
    samples: sorted.length,
    lost: run.lost,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    maxMs: sorted[sorted.length - 1] ?? NaN,
  };
  const what = mode === 'alert' ? 'publish -> alert' : 'publish -> delivery';
  console.log(
    `  latency ${what}, ${serverName} (${label}) at ${rate} msg/s, server CPU ${figures.cpu.toFixed(2)}: ` +
      `p50 ${figures.p50Ms.toFixed(2)} ms, p99 ${figures.p99Ms.toFixed(2)} ms over ${figures.samples} (${figures.lost} unmatched)`,
  );
  return figures;
}

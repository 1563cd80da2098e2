/**
 * Scenario 1: ingest throughput. One fresh server process per run, the load generator at full speed, a
 * warm-up, then messages/s and CPU seconds per million readings over a fixed measuring window, read from the
 * server itself (so a generator that outruns the server measures the server, not itself).
 */
import { startLoad, type LoadOptions, type LoadStats } from './loadgen.js';
import type { ServerUnderTest } from './servers.js';
import { SPARKPLUG_METRICS } from './sparkplug-load.js';

export const READINGS_PER_MESSAGE = 3;

export interface RunFigures {
  readonly server: string;
  readonly qos: 0 | 1;
  readonly msgPerSec: number;
  readonly readingsPerSec: number;
  readonly cpuSecPerMillionReadings: number;
  readonly rssMiB: number;
  /** QoS 1: publish -> PUBACK as the generator sees it over the measuring window (100 in flight per connection at full speed). */
  readonly ackP50Ms?: number;
  readonly ackP99Ms?: number;
  /** QoS 1: PUBACKs timed over the measuring window. */
  readonly ackCount?: number;
}

export interface ThroughputSettings {
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly connections: number;
  readonly devices: number;
  readonly stepMs: number;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measureRun(server: ServerUnderTest, qos: 0 | 1, s: ThroughputSettings, rate = 0, sparkplug = false): Promise<RunFigures> {
  const opts: LoadOptions = {
    port: server.mqttPort,
    connections: s.connections,
    devices: s.devices,
    qos,
    rate,
    // Event time starts a day back and moves `stepMs` per message: always within the accepted range.
    t0: Date.now() - 86_400_000,
    stepMs: s.stepMs,
    inflight: 100,
    ...(sparkplug ? { sparkplug: true } : {}),
  };
  const load = await startLoad(opts);
  try {
    await sleep(s.warmupMs);
    const [a] = await Promise.all([server.sample(), load.stats()]); // the second starts the PUBACK latency window
    const t0 = performance.now();
    await sleep(s.measureMs);
    const [b, l] = (await Promise.all([server.sample(), load.stats()])) as [Awaited<ReturnType<ServerUnderTest['sample']>>, LoadStats];
    const secs = (performance.now() - t0) / 1000;
    const msgs = b.messages - a.messages;
    const readings = msgs * (sparkplug ? SPARKPLUG_METRICS : READINGS_PER_MESSAGE);
    return {
      server: server.name,
      qos,
      msgPerSec: msgs / secs,
      readingsPerSec: readings / secs,
      cpuSecPerMillionReadings: readings > 0 ? (b.cpuSeconds - a.cpuSeconds) / (readings / 1e6) : NaN,
      rssMiB: b.rssBytes / 2 ** 20,
      ...(l.ack ? { ackP50Ms: l.ack.p50Ms, ackP99Ms: l.ack.p99Ms, ackCount: l.ack.count } : {}),
    };
  } finally {
    await load.stop();
  }
}

export function median(xs: readonly number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 === 1 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

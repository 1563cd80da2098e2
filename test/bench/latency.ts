/**
 * Scenario 2: publish-to-alert-event latency under load. The generator holds the gateway at half its measured
 * maximum (QoS 0); a probe device publishes a reading of sensor `a` every 20 ms alternating 200 and 0, so rule
 * `probe-hot` (above: 100) fires and resolves on every probe message. A subscriber on alerts/# matches each
 * event to its probe by ts. Both probe and subscriber live in this process, so one clock times both ends.
 */
import mqtt from 'mqtt';
import { startLoad } from './loadgen.js';
import type { ServerUnderTest } from './servers.js';
import { sleep } from './throughput.js';

export interface LatencyFigures {
  readonly rate: number;
  readonly label: string;
  readonly samples: number;
  readonly lost: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function runLatency(start: () => Promise<ServerUnderTest>, maxRate: number, label: string, probes = Number(process.env.BENCH_PROBES ?? 1000)): Promise<LatencyFigures> {
  const server = await start();
  const rate = Math.round(maxRate / 2);
  const load = await startLoad({ port: server.mqttPort, connections: 50, devices: 1000, qos: 0, rate, t0: Date.now() - 86_400_000, stepMs: 100 });
  const url = `mqtt://127.0.0.1:${server.mqttPort}`;
  const sub = await mqtt.connectAsync(url, { clientId: 'bench-alerts' });
  const probe = await mqtt.connectAsync(url, { clientId: 'bench-probe' });
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  sub.on('message', (topic, payload) => {
    if (!topic.startsWith('alerts/probe-1/')) return;
    const now = performance.now();
    const ts = (JSON.parse(payload.toString()) as { ts: number }).ts;
    const t = sentAt.get(ts);
    if (t !== undefined) {
      latencies.push(now - t);
      sentAt.delete(ts);
    }
  });
  await sub.subscribeAsync('alerts/#', { qos: 0 });
  try {
    await sleep(2000);
    const t0 = Date.now() - 3_600_000;
    for (let k = 0; k < probes; k++) {
      const ts = t0 + k * 1000;
      const payload = `{"ts":${ts},"readings":{"a":${k % 2 === 0 ? 200 : 0}}}`;
      sentAt.set(ts, performance.now());
      probe.publish('devices/probe-1/telemetry', payload, { qos: 0 });
      await sleep(20);
    }
    await sleep(1000);
  } finally {
    await load.stop();
    await Promise.all([sub.endAsync(true), probe.endAsync(true)]);
    await server.stop();
  }
  const sorted = latencies.sort((a, b) => a - b);
  const figures = { rate, label, samples: sorted.length, lost: sentAt.size, p50Ms: quantile(sorted, 0.5), p99Ms: quantile(sorted, 0.99), maxMs: sorted[sorted.length - 1] ?? NaN };
  console.log(`  latency (${label}) at ${rate} msg/s: p50 ${figures.p50Ms.toFixed(2)} ms, p99 ${figures.p99Ms.toFixed(2)} ms over ${figures.samples} events (${figures.lost} unmatched)`);
  return figures;
}

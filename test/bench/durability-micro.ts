/**
 * Durable acknowledgement micro-benchmark (docs/durability.md): QoS 1 publish throughput and PUBACK latency with the
 * ingest log at durability.sync normal vs full, against QoS 0 (no log, no PUBACK). A real in-process gateway
 * (aedes + SQLite files in a temp folder); InfluxDB is not needed (the outbox just keeps its points).
 *
 *   npx tsx test/bench/durability-micro.ts [clients=20] [messages=500]
 *
 * Each client publishes `messages` telemetry objects one after the other, waiting for each PUBACK (QoS 1), so
 * latency is the time from publish to PUBACK. Figures depend on the machine and its disk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { buildGateway } from '../../gateway/app.js';
import { validateConfig } from '../../gateway/config/load.js';
import { createLogger } from '../../gateway/log.js';

const clients = Number(process.argv[2] ?? 20);
const messages = Number(process.argv[3] ?? 500);

async function run(mode: 'normal' | 'full' | 'qos0'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-durable-'));
  const config = validateConfig(
    {
      mqtt: { host: '127.0.0.1', port: 0, wsPort: 0 },
      http: { host: '127.0.0.1', port: 0 },
      auth: { devicesFile: join(dir, 'devices.yaml') },
      alerts: { rulesFile: join(dir, 'none.yaml') },
      influx: { url: 'http://127.0.0.1:9' },
      buffer: { dir },
      durability: { sync: mode === 'full' ? 'full' : 'normal' },
      log: { level: 'silent' },
    },
    'bench',
  );
  const gw = await buildGateway(config, { log: createLogger('silent') });
  await gw.start();
  const url = `mqtt://127.0.0.1:${gw.ports.mqtt}`;
  const qos = mode === 'qos0' ? 0 : 1;
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const client = await mqtt.connectAsync(url, { clientId: `bench-${c}`, reconnectPeriod: 0 });
      const topic = `devices/bench-${c}/telemetry`;
      for (let i = 0; i < messages; i++) {
        const payload = JSON.stringify({ ts: Date.now(), seq: i, readings: { t: i * 0.5, h: 40 + (i % 7) } });
        const s = performance.now();
        await client.publishAsync(topic, payload, { qos });
        latencies.push(performance.now() - s);
      }
      await client.endAsync();
    }),
  );
  // QoS 0 has no PUBACK: count until the gateway has received everything.
  const total = clients * messages;
  for (;;) {
    const received = (await gw.metrics.messagesReceived.get()).values[0]?.value ?? 0;
    if (received >= total) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!.toFixed(2);
  const line =
    `${mode.padEnd(6)} ${String(Math.round(total / seconds)).padStart(7)} msg/s` +
    (qos === 1 ? `   PUBACK p50 ${pct(0.5)} ms  p99 ${pct(0.99)} ms` : '   (no PUBACK)');
  console.log(line);
  await gw.stop();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`${clients} clients x ${messages} publishes, each waiting for its PUBACK (QoS 1)`);
for (const mode of ['qos0', 'normal', 'full'] as const) await run(mode);

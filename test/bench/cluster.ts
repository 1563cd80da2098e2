/**
 * One cluster node's ingest against the single gateway and bare aedes, in the same run (BENCHMARKS.md, "A cluster
 * node"). Not part of `npm test`:
 *
 *   npm run build && node --import tsx test/bench/cluster.ts
 *
 * Servers, each started fresh per run: bare aedes; the single gateway; a cluster node (owning every partition) on
 * one NATS server (replicas 1) and on a 3-node NATS cluster on this machine (replicas 3). Each at QoS 0 and QoS 1,
 * BENCH_REPEATS times (default 1). Messages/s are counted where the pipeline takes them (the cluster node's
 * workers, after the stream), so a front end that outruns its workers is not counted as ingest.
 */
import { cpus } from 'node:os';
import { startInfluxd } from '../support/influxd.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';
import { BENCH_RULES } from './rules.js';
import { startBareAedes, startGateway, type ServerUnderTest } from './servers.js';
import { measureRun, type RunFigures, type ThroughputSettings } from './throughput.js';

const settings: ThroughputSettings = {
  warmupMs: 3000,
  measureMs: Number(process.env.BENCH_MEASURE_S ?? '5') * 1000,
  connections: 50,
  devices: 1000,
  stepMs: 100,
};
const repeats = Number(process.env.BENCH_REPEATS ?? '1');
const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : '-');

async function main(): Promise<void> {
  console.log(`bench cluster: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}`);
  const influx = await startInfluxd();
  let db = 0;
  const results: RunFigures[] = [];
  const natsOf: Record<string, NatsCluster | undefined> = {};
  const nats = async (size: number) => (natsOf[size] ??= await startNatsCluster(size));
  const servers: [string, () => Promise<ServerUnderTest>][] = [
    ['bare aedes', () => startBareAedes()],
    ['gateway', () => startGateway({ influxUrl: influx.url, database: `bc${++db}`, rules: BENCH_RULES })],
    [
      'cluster node, 1 NATS server (R1)',
      async () =>
        startGateway({
          influxUrl: influx.url,
          database: `bc${++db}`,
          rules: BENCH_RULES,
          name: 'cluster node R1',
          cluster: { servers: (await nats(1)).urls, replicas: 1 },
        }),
    ],
    [
      'cluster node, 3 NATS servers (R3)',
      async () =>
        startGateway({
          influxUrl: influx.url,
          database: `bc${++db}`,
          rules: BENCH_RULES,
          name: 'cluster node R3',
          cluster: { servers: (await nats(3)).urls, replicas: 3 },
        }),
    ],
  ];
  try {
    for (const qos of [0, 1] as const) {
      for (let i = 0; i < repeats; i++) {
        for (const [label, start] of servers) {
          const server = await start();
          try {
            const r = await measureRun(server, qos, settings);
            const ack = r.ackP50Ms === undefined ? '' : `, PUBACK p50 ${fmt(r.ackP50Ms, 1)} ms p99 ${fmt(r.ackP99Ms!, 1)} ms`;
            console.log(
              `  QoS ${qos} ${label}: ${fmt(r.msgPerSec)} msg/s, ${fmt(r.cpuSecPerMillionReadings, 2)} CPU s per 1M readings (this process only)${ack}`,
            );
            results.push(r);
          } finally {
            await server.stop();
          }
        }
      }
    }
  } finally {
    for (const n of Object.values(natsOf)) await n?.stop();
    await influx.dispose();
  }
  const bare = (qos: number) => results.find((r) => r.server === 'bare aedes' && r.qos === qos)?.msgPerSec ?? NaN;
  console.log('');
  for (const r of results)
    console.log(`${r.server.padEnd(18)} QoS ${r.qos}: ${fmt(r.msgPerSec).padStart(8)} msg/s  (${fmt(r.msgPerSec / bare(r.qos), 2)} of bare aedes)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

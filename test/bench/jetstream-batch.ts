/**
 * What one JetStream stream message per MQTT publish would cost against the front end's batches (BENCHMARKS.md,
 * "A cluster node": why `Nats-Msg-Id` stays per batch). Not part of `npm test`:
 *
 *   node --import tsx test/bench/jetstream-batch.ts
 *
 * A 3-node NATS cluster on this machine (R3 stream), the front end's StreamPublisher and batch format, 256 stream
 * messages in flight; BENCH_PUBLISHES publishes (default 20,000) per run, alternated per message / per batch of 16,
 * BENCH_REPEATS times (default 2). CPU is this process's (the NATS servers' comes on top, on the same cores).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, headers } from '@nats-io/transport-node';
import { encodeBatch, type BatchRecord } from '../../gateway/cluster/batch.js';
import { StreamPublisher } from '../../gateway/cluster/stream-publisher.js';
import { startNatsCluster } from '../support/nats.js';

const N = Number(process.env.BENCH_PUBLISHES ?? '20000');
const repeats = Number(process.env.BENCH_REPEATS ?? '2');
const IN_FLIGHT = 256;
const payload = Buffer.from(JSON.stringify({ ts: 1764331200000, seq: 42, readings: { temperature: 21.5 } }));

async function main(): Promise<void> {
  const nats = await startNatsCluster(3);
  const nc = await connect({ servers: nats.urls, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'BENCH', subjects: ['bench.*'], num_replicas: 3, duplicate_window: 120e9 });
  const sp = new StreamPublisher(nc, 10_000);
  let id = 0;
  const run = async (perMessage: number) => {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let sent = 0;
    let inflight = 0;
    let messages = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (inflight < IN_FLIGHT && sent < N) {
          const records: BatchRecord[] = [];
          for (let i = 0; i < perMessage && sent < N; i++, sent++) records.push({ topic: `devices/d${sent % 1000}/telemetry`, payload, receivedAt: 1 });
          const h = headers();
          h.set('Nats-Msg-Id', `bench.${++id}`);
          inflight++;
          messages++;
          void sp.publish(`bench.${id % 64}`, encodeBatch(records), h).then((err) => {
            if (err) console.error(err.message);
            inflight--;
            if (sent >= N && inflight === 0) resolve();
            else pump();
          });
        }
      };
      pump();
    });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    console.log(
      `${perMessage === 1 ? 'per publish ' : `batches of ${perMessage}`}: ${N} publishes in ${messages} stream messages, ` +
        `${Math.round((N / ms) * 1000).toLocaleString('en-US')} publishes/s, ${((cpu.user + cpu.system) / N).toFixed(1)} us CPU per publish`,
    );
  };
  for (let r = 0; r < repeats; r++) {
    await run(1);
    await run(16);
  }
  sp.close();
  await nc.close();
  await nats.stop();
}

await main();

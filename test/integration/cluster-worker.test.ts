import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encodeBatch } from '../../gateway/cluster/batch.js';
import { CheckpointStoreKv } from '../../gateway/cluster/checkpoints.js';
import { ensureStream } from '../../gateway/cluster/ingest-front.js';
import { createClusterMetrics, type ClusterMetrics } from '../../gateway/cluster/metrics.js';
import { clusterNames, partitionSubject, type ClusterNames } from '../../gateway/cluster/names.js';
import { PartitionWorker } from '../../gateway/cluster/partition-worker.js';
import { validateConfig } from '../../gateway/config/load.js';
import { createLogger } from '../../gateway/log.js';
import { createMetrics, type Metrics } from '../../gateway/metrics.js';
import type { WindowPoint } from '../../gateway/pipeline/types.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';
import { testPartitionStates } from '../support/partition-states.js';
import { waitFor } from '../support/wait.js';

/**
 * A partition stream of `gatewayId` on `servers` nats-servers (a replica on each), a connection that reconnects,
 * the KV bucket of its checkpoints, and a folder with no rules; torn down after the describe block.
 */
function partitionStream(gatewayId: string, servers: number) {
  const names = clusterNames(gatewayId);
  const config = validateConfig(
    { gatewayId, cluster: { enabled: true, nodeId: 'a', replicas: servers, partitions: 4 }, pipeline: { interval: '1s', allowedLateness: '0s' } },
    'test',
  );
  const f = { names } as { names: ClusterNames; nats: NatsCluster; nc: NatsConnection; dir: string; store: CheckpointStoreKv };
  beforeAll(async () => {
    f.nats = await startNatsCluster(servers);
    f.nc = await connect({ servers: f.nats.urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    await ensureStream(f.nc, names, config.cluster);
    f.store = new CheckpointStoreKv(await new Kvm(f.nc).create(`${gatewayId}_checkpoints`, { history: 1, replicas: servers }));
    f.dir = mkdtempSync(join(tmpdir(), 'cluster-worker-'));
    writeFileSync(join(f.dir, 'rules.yaml'), 'rules: []\n');
  });
  afterAll(async () => {
    await f.nc?.close();
    await f.nats?.stop();
    if (f.dir) rmSync(f.dir, { recursive: true, force: true });
  });
  return f;
}

/** The worker of `partition` on node `node`, its windows pushed to `windows`. */
function partitionWorker(
  f: ReturnType<typeof partitionStream>,
  partition: number,
  node: string,
  d: { js: JetStreamClient; jsm: JetStreamManager; metrics: Metrics; clusterMetrics: ClusterMetrics; windows: WindowPoint[]; onFenced?: () => void },
): PartitionWorker {
  const log = createLogger('silent');
  const { states } = testPartitionStates({
    dir: f.dir,
    metrics: d.metrics,
    log,
    now: Date.now,
    output: { window: (w) => d.windows.push({ ...w }), reading: () => {} },
  });
  return new PartitionWorker(partition, {
    nodeId: node,
    js: d.js,
    jsm: d.jsm,
    names: f.names,
    store: f.store,
    states,
    commitEmitted: () => {},
    metrics: d.clusterMetrics,
    log,
    now: Date.now,
    onFenced: d.onFenced ?? (() => {}),
  });
}

/**
 * Partition workers on a real stream (one nats-server): a new owner resumes from the checkpoint's sequence + 1, and
 * the former owner, still running, is fenced at its next checkpoint and emits nothing more into InfluxDB's way.
 */
describe('partition worker: resume and fencing', () => {
  const f = partitionStream('wk-gw', 1);
  const { names } = f;

  it('the new owner resumes after the checkpoint; the old one is fenced', async () => {
    const js = jetstream(f.nc);
    const jsm = await jetstreamManager(f.nc);
    const { store } = f;
    const metrics = createMetrics();
    const windows: Record<string, WindowPoint[]> = { a: [], b: [] };
    const fenced: string[] = [];
    const clusterMetrics = createClusterMetrics(metrics.registry);
    const worker = (node: 'a' | 'b') =>
      partitionWorker(f, 1, node, { js, jsm, metrics, clusterMetrics, windows: windows[node]!, onFenced: () => fenced.push(node) });
    const t0 = 1_700_000_000_000;
    const send = async (second: number) => {
      const payload = Buffer.from(JSON.stringify({ ts: t0 + second * 1000, value: second }));
      const ack = await js.publish(partitionSubject(names, 1), encodeBatch([{ topic: 'devices/d1/sensors/t', payload, receivedAt: t0 + second * 1000 }]));
      return ack.seq;
    };

    const a = worker('a');
    expect(await a.open()).toEqual({ from: 'none', startSeq: 1 });
    const s1 = await send(0);
    await send(1); // closes the window of second 0 (event time, allowedLateness 0)
    const s2 = await send(2);
    await waitFor('a processed three', () => a.status().seq === s2);
    expect(windows['a']!.map((w) => w.start)).toEqual([t0, t0 + 1000]);
    expect(await a.checkpoint()).toBe(true);
    expect(a.status().checkpointSeq).toBe(s2);

    // b takes over (a's lease expired, say) while a still runs.
    const b = worker('b');
    expect(await b.open()).toEqual({ from: 'other', startSeq: s2 + 1 });
    const s3 = await send(3);
    await waitFor('both processed the fourth', () => a.status().seq === s3 && b.status().seq === s3);
    // b resumed from the checkpoint: the window of second 2 closes with the same values as on a.
    expect(windows['b']!.map((w) => [w.start, w.count, w.mean])).toEqual([[t0 + 2000, 1, 2]]);
    expect(windows['a']!.at(-1)).toMatchObject({ start: t0 + 2000, count: 1, mean: 2 });
    // a's next checkpoint is refused: it learns it is no longer the owner.
    expect(await a.checkpoint()).toBe(false);
    expect(fenced).toEqual(['a']);
    // The idle close of the last window: a tick marker in the stream, applied by every reader at the same place.
    b.idleTick(Date.now(), 2000);
    await waitFor(
      'both closed the window of second 3 by the marker',
      () => windows['a']!.some((w) => w.start === t0 + 3000) && windows['b']!.some((w) => w.start === t0 + 3000),
    );
    expect(windows['a']!.find((w) => w.start === t0 + 3000)).toEqual(windows['b']!.find((w) => w.start === t0 + 3000));
    const s4 = b.status().seq;
    expect(s4).toBe(s3 + 1);
    expect(await b.checkpoint()).toBe(true);
    expect((await store.load(1)).checkpoint).toMatchObject({ node: 'b', seq: s4 });
    // What the checkpoint covers is purged from the stream: the partition keeps only its tail (here nothing).
    await waitFor('the stream purged up to the checkpoint', async () => (await jsm.streams.info(names.stream)).state.messages === 0);
    expect(s1).toBe(1);
    await a.close(false);
    await b.close(true);
  });
});

/**
 * A partition's consumer is an R1 ephemeral on one of the stream's servers. When that server is killed the client
 * library never brings the consumer back (it asks for its info, which times out, for ever): the worker notices
 * the silence and starts a new consumer after the last message it processed, so nothing stalls or repeats.
 */
describe('partition worker: the NATS server holding its consumer is killed', () => {
  const f = partitionStream('wk-kill', 3);
  const { names } = f;

  it('goes on from the next message with a new consumer', async () => {
    const js = jetstream(f.nc, { timeout: 2000 });
    const jsm = await jetstreamManager(f.nc);
    const metrics = createMetrics();
    const clusterMetrics = createClusterMetrics(metrics.registry);
    const windows: WindowPoint[] = [];
    const worker = partitionWorker(f, 2, 'a', { js, jsm, metrics, clusterMetrics, windows });
    const t0 = 1_700_000_000_000;
    // Retried through the stream leader election when the killed server led the stream.
    const send = (second: number) =>
      waitFor(`reading ${second} stored`, async () => {
        const payload = Buffer.from(JSON.stringify({ ts: t0 + second * 1000, value: second }));
        return (await js.publish(partitionSubject(names, 2), encodeBatch([{ topic: 'devices/d1/sensors/t', payload, receivedAt: t0 + second * 1000 }]))).seq;
      });
    expect(await worker.open()).toEqual({ from: 'none', startSeq: 1 });
    for (let s = 0; s < 3; s++) await send(s);
    await waitFor('the first three processed', () => worker.status().seq === 3);

    let holder: string | undefined;
    for await (const ci of jsm.consumers.list(names.stream)) if (ci.config.filter_subject === partitionSubject(names, 2)) holder = ci.cluster?.leader;
    const index = f.nats.nodes.findIndex((n) => n.name === holder);
    expect(index).toBeGreaterThanOrEqual(0);
    await f.nats.kill(index, 'SIGKILL');

    let last = 0;
    for (let s = 3; s < 6; s++) last = await send(s);
    await waitFor('the next three processed by a new consumer', () => worker.status().seq === last, 30_000);
    expect((await clusterMetrics.consumersRestarted.get()).values[0]?.value).toBeGreaterThanOrEqual(1);
    // Every reading once: the windows of seconds 0-4 (5 waits for a later reading), one reading each.
    expect(windows.map((w) => [w.start - t0, w.count, w.mean])).toEqual([0, 1, 2, 3, 4].map((s) => [s * 1000, 1, s]));
    await worker.close(false);
  });
});

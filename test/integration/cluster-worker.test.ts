import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { encodeBatch } from '../../gateway/cluster/batch.js';
import { CheckpointStoreKv } from '../../gateway/cluster/checkpoints.js';
import { ensureStream } from '../../gateway/cluster/ingest-front.js';
import { createClusterMetrics } from '../../gateway/cluster/metrics.js';
import { clusterNames, partitionSubject } from '../../gateway/cluster/names.js';
import { PartitionWorker } from '../../gateway/cluster/partition-worker.js';
import { validateConfig } from '../../gateway/config/load.js';
import { createLogger } from '../../gateway/log.js';
import { createMetrics } from '../../gateway/metrics.js';
import type { WindowPoint } from '../../gateway/pipeline/types.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';
import { testPartitionStates } from '../support/partition-states.js';
import { waitFor } from '../support/wait.js';

/**
 * Partition workers on a real stream (one nats-server): a new owner resumes from the checkpoint's sequence + 1, and
 * the former owner, still running, is fenced at its next checkpoint and emits nothing more into InfluxDB's way.
 */
describe('partition worker: resume and fencing', () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let dir: string;
  const names = clusterNames('wk-gw');
  const config = validateConfig(
    { gatewayId: 'wk-gw', cluster: { enabled: true, nodeId: 'a', replicas: 1, partitions: 4 }, pipeline: { interval: '1s', allowedLateness: '0s' } },
    'test',
  );

  beforeAll(async () => {
    nats = await startNatsCluster(1);
    nc = await connect({ servers: nats.urls });
    await ensureStream(nc, names, config.cluster);
    dir = mkdtempSync(join(tmpdir(), 'cluster-worker-'));
    writeFileSync(join(dir, 'rules.yaml'), 'rules: []\n');
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the new owner resumes after the checkpoint; the old one is fenced', async () => {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const store = new CheckpointStoreKv(await new Kvm(nc).create('wk_checkpoints', { history: 1 }));
    const log = createLogger('silent');
    const metrics = createMetrics();
    const windows: Record<string, WindowPoint[]> = { a: [], b: [] };
    const fenced: string[] = [];
    const clusterMetrics = createClusterMetrics(metrics.registry);
    const worker = (node: 'a' | 'b') => {
      const { states } = testPartitionStates({ dir, metrics, log, now: Date.now, output: { window: (w) => windows[node]!.push({ ...w }), reading: () => {} } });
      return new PartitionWorker(1, {
        nodeId: node,
        js,
        jsm,
        names,
        store,
        states,
        commitEmitted: () => {},
        metrics: clusterMetrics,
        log,
        now: Date.now,
        onFenced: () => fenced.push(node),
      });
    };
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
  let nats: NatsCluster;
  let nc: NatsConnection;
  let dir: string;
  const names = clusterNames('wk-kill');
  const config = validateConfig(
    { gatewayId: 'wk-kill', cluster: { enabled: true, nodeId: 'a', replicas: 3, partitions: 4 }, pipeline: { interval: '1s', allowedLateness: '0s' } },
    'test',
  );

  beforeAll(async () => {
    nats = await startNatsCluster(3);
    nc = await connect({ servers: nats.urls, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    await ensureStream(nc, names, config.cluster);
    dir = mkdtempSync(join(tmpdir(), 'cluster-worker-'));
    writeFileSync(join(dir, 'rules.yaml'), 'rules: []\n');
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('goes on from the next message with a new consumer', async () => {
    const js = jetstream(nc, { timeout: 2000 });
    const jsm = await jetstreamManager(nc);
    const store = new CheckpointStoreKv(await new Kvm(nc).create('wk_kill_checkpoints', { history: 1, replicas: 3 }));
    const log = createLogger('silent');
    const metrics = createMetrics();
    const clusterMetrics = createClusterMetrics(metrics.registry);
    const windows: WindowPoint[] = [];
    const { states } = testPartitionStates({ dir, metrics, log, now: Date.now, output: { window: (w) => windows.push({ ...w }), reading: () => {} } });
    const worker = new PartitionWorker(2, {
      nodeId: 'a',
      js,
      jsm,
      names,
      store,
      states,
      commitEmitted: () => {},
      metrics: clusterMetrics,
      log,
      now: Date.now,
      onFenced: () => {},
    });
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
    const index = nats.nodes.findIndex((n) => n.name === holder);
    expect(index).toBeGreaterThanOrEqual(0);
    await nats.kill(index, 'SIGKILL');

    let last = 0;
    for (let s = 3; s < 6; s++) last = await send(s);
    await waitFor('the next three processed by a new consumer', () => worker.status().seq === last, 30_000);
    expect((await clusterMetrics.consumersRestarted.get()).values[0]?.value).toBeGreaterThanOrEqual(1);
    // Every reading once: the windows of seconds 0-4 (5 waits for a later reading), one reading each.
    expect(windows.map((w) => [w.start - t0, w.count, w.mean])).toEqual([0, 1, 2, 3, 4].map((s) => [s * 1000, 1, s]));
    await worker.close(false);
  });
});

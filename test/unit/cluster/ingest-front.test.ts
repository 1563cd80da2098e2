import type { NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../../../gateway/config/load.js';
import { IngestFront, partitionKeyOf } from '../../../gateway/cluster/ingest-front.js';
import { createClusterMetrics } from '../../../gateway/cluster/metrics.js';
import { clusterNames, partitionOf, partitionSubject } from '../../../gateway/cluster/names.js';
import { RateLimitedLog } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import { pino } from 'pino';

/** A NatsConnection that records publishes and never answers (enough for what the gate decides synchronously). */
function fakeNats() {
  const published: string[] = [];
  const nc = {
    subscribe: () => ({ unsubscribe: () => {} }),
    publish: (subject: string) => void published.push(subject),
  } as unknown as NatsConnection;
  return { nc, published };
}

describe('cluster front end: what reaches the stream', () => {
  it('partitions a Sparkplug B publish by its edge node: the node, its devices and its will on one partition', async () => {
    const config = validateConfig({ cluster: { enabled: true, nodeId: 'a', partitions: 16 } }, 'test');
    const metrics = createMetrics();
    const { nc, published } = fakeNats();
    const front = new IngestFront({
      nc,
      names: clusterNames(config.gatewayId),
      config,
      metrics: createClusterMetrics(metrics.registry),
      log: new RateLimitedLog(pino({ level: 'silent' })),
    });
    const done = vi.fn();
    const node = partitionSubject(clusterNames(config.gatewayId), partitionOf('plant/edge-1', 16));
    const topics = [
      'spBv1.0/plant/NBIRTH/edge-1',
      'spBv1.0/plant/DBIRTH/edge-1/dev-1',
      'spBv1.0/plant/DDATA/edge-1/dev-2',
      'spBv1.0/plant/NDATA/edge-1',
      'spBv1.0/plant/DDEATH/edge-1/dev-1',
      'spBv1.0/plant/NDEATH/edge-1',
    ];
    for (const t of topics) {
      front.gate(t, Buffer.from([1]), 0, Date.now(), done);
      // One turn of the event loop per publish: one stream message each.
      await new Promise((r) => setImmediate(r));
    }
    expect(published).toEqual(topics.map(() => node));
    // The key is the pipeline's device id of the node's own metrics.
    expect(partitionKeyOf('spBv1.0/plant/DDATA/edge-1/dev-2')).toBe('plant/edge-1');
    expect(partitionKeyOf('devices/d1/sensors/t')).toBe('d1');
    // Commands and STATE are not ingest: routed by the broker only.
    for (const t of ['spBv1.0/plant/NCMD/edge-1', 'spBv1.0/plant/DCMD/edge-1/dev-1', 'spBv1.0/STATE/host']) expect(partitionKeyOf(t)).toBeUndefined();
    front.gate('spBv1.0/plant/NCMD/edge-1', Buffer.from([1]), 1, Date.now(), done);
    await new Promise((r) => setImmediate(r));
    expect(published).toHaveLength(topics.length);
    expect(done.mock.calls.every((c) => c[0] === null)).toBe(true);
    // A topic too short to name its edge node still has a key (the owner refuses it as bad_topic, as a single gateway).
    expect(partitionKeyOf('spBv1.0/plant/NDATA/')).toBe('plant/');
    // Nothing was refused at the front.
    expect((await metrics.messagesRejected.get()).values.filter((v) => v.value > 0)).toEqual([]);
  });
});

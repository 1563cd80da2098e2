import type { NatsConnection } from '@nats-io/transport-node';
import { describe, expect, it, vi } from 'vitest';
import { validateConfig } from '../../../gateway/config/load.js';
import { IngestFront } from '../../../gateway/cluster/ingest-front.js';
import { createClusterMetrics } from '../../../gateway/cluster/metrics.js';
import { clusterNames } from '../../../gateway/cluster/names.js';
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
  it('counts a Sparkplug B publish as rejected (sparkplug_unsupported), acknowledges it and never puts it on the stream', async () => {
    const config = validateConfig({ cluster: { enabled: true, nodeId: 'a', partitions: 4 } }, 'test');
    const metrics = createMetrics();
    const { nc, published } = fakeNats();
    const front = new IngestFront({
      nc,
      names: clusterNames(config.gatewayId),
      config,
      metrics: createClusterMetrics(metrics.registry),
      rejected: metrics.messagesRejected,
      log: new RateLimitedLog(pino({ level: 'silent' })),
    });
    const done = vi.fn();
    front.gate('spBv1.0/plant/DDATA/edge-1/dev-1', Buffer.from([1, 2, 3]), 1, Date.now(), done);
    front.gate('spBv1.0/plant/NBIRTH/edge-1', Buffer.from([1]), 0, Date.now(), done);
    // Commands and STATE are not ingest: routed without a count.
    front.gate('spBv1.0/plant/NCMD/edge-1', Buffer.from([1]), 1, Date.now(), done);
    expect(done.mock.calls).toEqual([[null], [null], [null]]);
    await new Promise((r) => setImmediate(r));
    expect(published).toEqual([]);
    const rejected = (await metrics.messagesRejected.get()).values.find((v) => v.labels.reason === 'sparkplug_unsupported');
    expect(rejected?.value).toBe(2);

    // A JSON device publish does go to its partition's subject.
    front.gate('devices/d1/sensors/t', Buffer.from('21.5'), 0, Date.now(), done);
    await new Promise((r) => setImmediate(r));
    expect(published).toHaveLength(1);
    expect(published[0]).toMatch(/\.\d+$/);
  });
});

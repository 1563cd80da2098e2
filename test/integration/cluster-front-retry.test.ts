import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type MsgHdrs, type NatsConnection, type PublishOptions } from '@nats-io/transport-node';
import { pino } from 'pino';
import { decodeBatch } from '../../gateway/cluster/batch.js';
import { ensureStream, IngestFront } from '../../gateway/cluster/ingest-front.js';
import { createClusterMetrics } from '../../gateway/cluster/metrics.js';
import { clusterNames, partitionOf, partitionSubject } from '../../gateway/cluster/names.js';
import { validateConfig } from '../../gateway/config/load.js';
import { RateLimitedLog } from '../../gateway/log.js';
import { createMetrics } from '../../gateway/metrics.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';

/**
 * The front end's retry after a lost JetStream acknowledgement (one nats-server): the stream stored the batch, its
 * ack never came back, the front end published it again with the same Nats-Msg-Id, and JetStream's duplicate window
 * kept one copy. The device got one PUBACK; the partition holds its reading once.
 */
describe('cluster front end: a retried publish is stored once', () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  const names = clusterNames('rt-gw');
  const config = validateConfig({ gatewayId: 'rt-gw', cluster: { enabled: true, nodeId: 'a', replicas: 1, partitions: 4 } }, 'test');

  beforeAll(async () => {
    nats = await startNatsCluster(1);
    nc = await connect({ servers: nats.urls });
    await ensureStream(nc, names, config.cluster);
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('the first ack is lost: the retry carries the same Nats-Msg-Id and the stream keeps one message', async () => {
    const subject = partitionSubject(names, partitionOf('dev-r', 4));
    const ids: string[] = [];
    // The first publish to the partition goes to the stream with its reply subject pointing nowhere: stored, never acked.
    const lossy = new Proxy(nc, {
      get(target, prop) {
        if (prop === 'publish')
          return (s: string, data: Uint8Array, o?: PublishOptions & { headers?: MsgHdrs }) => {
            if (s !== subject) return target.publish(s, data, o);
            ids.push(o?.headers?.get('Nats-Msg-Id') ?? '');
            target.publish(s, data, ids.length === 1 ? { ...o, reply: `_INBOX.lost.${Date.now()}` } : o);
          };
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const metrics = createMetrics();
    const cm = createClusterMetrics(metrics.registry);
    const front = new IngestFront({
      nc: lossy,
      names,
      config,
      metrics: cm,
      log: new RateLimitedLog(pino({ level: 'silent' })),
    });
    const payload = JSON.stringify({ ts: 1764331200000, value: 21.5 });
    const acked = await new Promise<Error | null | undefined>((resolve) => front.gate('devices/dev-r/sensors/t', Buffer.from(payload), 1, 1, resolve));
    await front.drain();
    expect(acked).toBeNull();
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(ids[0]);
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(names.stream);
    expect(info.state.messages).toBe(1);
    const stored = await jsm.streams.getMessage(names.stream, { last_by_subj: subject });
    const records: string[] = [];
    decodeBatch(stored!.data, (topic, p) => records.push(`${topic} ${p.toString()}`));
    expect(records).toEqual([`devices/dev-r/sensors/t ${payload}`]);
    expect((await cm.publishFailed.get()).values.reduce((s, v) => s + v.value, 0)).toBe(0);
  });
});

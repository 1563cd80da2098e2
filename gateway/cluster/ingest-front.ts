import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { IngestGate } from '../broker/front.js';
import type { GatewayConfig } from '../config/schema.js';
import type { RateLimitedLog } from '../log.js';
import { parseIngestTopic } from '../wire/topics.js';
import { MessageIdentity } from './identity.js';
import type { ClusterMetrics } from './metrics.js';
import { partitionOf, partitionSubject, type ClusterNames } from './names.js';
import { StreamPublisher } from './stream-publisher.js';

/** Headers of a stored ingest publish: what decode + pipeline need to reproduce the processing (ingest-log.ts). */
export const H_TOPIC = 'Gw-Topic';
export const H_RECEIVED_AT = 'Gw-Received-At';

/** How long a publish is retried (a stream leader election takes a few seconds) before it counts as failed. */
const RETRY_FOR_MS = 30_000;
/** QoS 0 publishes handed to JetStream and not yet acknowledged, beyond which QoS 0 waits like QoS 1. */
const MAX_INFLIGHT_QOS0 = 2_000;
/** The stream keeps what no checkpoint covers yet; this only bounds what a never-worked partition holds. */
const MAX_AGE_NS = 7 * 24 * 3600 * 1e9;

/** Creates the ingest stream (or checks it): one subject per partition, `replicas` copies, file storage. */
export async function ensureStream(nc: NatsConnection, names: ClusterNames, c: GatewayConfig['cluster']): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = { name: names.stream, subjects: [`${names.subjects}.*`], num_replicas: c.replicas, max_age: MAX_AGE_NS, duplicate_window: 120 * 1e9 };
  try {
    const info = await jsm.streams.info(names.stream);
    if (info.config.num_replicas !== c.replicas) await jsm.streams.update(names.stream, { ...info.config, num_replicas: c.replicas });
  } catch {
    await jsm.streams.add(config).catch(async (err: unknown) => {
      // Another gateway created it at the same moment.
      await jsm.streams.info(names.stream).catch(() => Promise.reject(err));
    });
  }
}

export interface IngestFrontDeps {
  readonly nc: NatsConnection;
  readonly names: ClusterNames;
  readonly config: GatewayConfig;
  readonly metrics: ClusterMetrics;
  readonly log: RateLimitedLog;
}

/**
 * The front end of a cluster gateway: the broker's gate puts each ingest publish on the partition of its device
 * in the stream, with its receive time and topic, and acknowledges a QoS 1 publish (PUBACK) only once JetStream
 * has stored it on a majority of its replicas. The stream is the ingest log; nothing is processed here.
 * Other topics are just routed by the local broker.
 */
export class IngestFront {
  private readonly js: StreamPublisher;
  private readonly identity: MessageIdentity;
  private closed = false;
  private inflight = 0;
  private idle: (() => void) | undefined;

  constructor(private readonly d: IngestFrontDeps) {
    this.js = new StreamPublisher(d.nc, 5_000);
    this.identity = new MessageIdentity(d.config.cluster.nodeId!, { maxPayloadBytes: d.config.mqtt.maxPayloadBytes });
  }

  readonly gate: IngestGate = (topic, given, qos, receivedAt, done) => {
    const parsed = parseIngestTopic(topic);
    if (parsed === undefined) return done(null);
    // The broker thread hands a QoS 0 payload as a view of its ring, valid during this call only (broker-thread.ts);
    // the publish (and its retries) outlive it.
    const payload = qos === 0 ? Buffer.from(given) : given;
    const partition = partitionOf(parsed.device, this.d.config.cluster.partitions);
    const h = headers();
    h.set(H_TOPIC, topic);
    h.set(H_RECEIVED_AT, String(receivedAt));
    // JetStream's duplicate detection header (ADR-31 / JetStream "Message Deduplication").
    h.set('Nats-Msg-Id', this.identity.of(topic, parsed, payload, receivedAt));
    const subject = partitionSubject(this.d.names, partition);
    const t0 = performance.now();
    this.inflight++;
    // QoS 0 is at most once by contract: no wait, unless too many publishes are in flight; then its callback
    // waits too, which makes aedes read no further from that client (backpressure instead of unbounded memory).
    const early = qos === 0 && this.inflight <= MAX_INFLIGHT_QOS0;
    if (early) done(null);
    void this.publish(subject, payload, h).then((err) => {
      if (err === undefined && qos > 0) this.d.metrics.publishSeconds.observe((performance.now() - t0) / 1000);
      if (err !== undefined) {
        this.d.metrics.publishFailed.inc({ qos: String(qos) });
        this.d.log.warn('publish_failed', { topic, partition, err: err.message }, 'ingest publish not stored by JetStream');
      }
      if (qos > 0) done(err ?? null);
      else if (!early) done(null);
      if (--this.inflight === 0) this.idle?.();
    });
  };

  /** Resolves once every publish handed to the gate has been acknowledged (or given up): the graceful stop. */
  async drain(): Promise<void> {
    this.closed = true;
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.js.close();
  }

  private async publish(subject: string, payload: Buffer, h: ReturnType<typeof headers>): Promise<Error | undefined> {
    const deadline = Date.now() + (this.closed ? 5_000 : RETRY_FOR_MS);
    let wait = 100;
    for (;;) {
      const err = await this.js.publish(subject, payload, h);
      if (err === undefined) return undefined;
      // No responders or a timeout: the stream has no leader for the moment (election) or the connection is
      // down (reconnecting). The same Nats-Msg-Id makes the retry idempotent.
      if (Date.now() + wait > deadline) return err;
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 1_000);
    }
  }
}

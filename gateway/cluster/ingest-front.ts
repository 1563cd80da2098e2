import { randomBytes } from 'node:crypto';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { IngestGate } from '../broker/front.js';
import type { GatewayConfig } from '../config/schema.js';
import type { RateLimitedLog } from '../log.js';
import { edgeNodeKey, isSparkplugIngestTopic } from '../sparkplug/topic.js';
import { parseIngestTopic } from '../wire/topics.js';
import { encodeBatch, type BatchRecord } from './batch.js';
import type { ClusterMetrics } from './metrics.js';
import { partitionOf, partitionSubject, type ClusterNames } from './names.js';
import { StreamPublisher } from './stream-publisher.js';

/** How long a publish is retried (a stream leader election takes a few seconds) before it counts as failed. */
const RETRY_FOR_MS = 30_000;
/** Batches handed to JetStream and not yet acknowledged, beyond which QoS 0 waits for its batch like QoS 1. */
const MAX_INFLIGHT_BATCHES = 256;
/** A batch is sent at the end of the event loop's turn, or once it holds this much (NATS max_payload is 1 MiB). */
const MAX_BATCH_BYTES = 512 * 1024;
const MAX_BATCH_RECORDS = 1_000;
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

interface Waiter {
  readonly qos: number;
  readonly done: (err?: Error | null) => void;
}

interface OpenBatch {
  readonly records: BatchRecord[];
  readonly waiters: Waiter[];
  bytes: number;
  readonly since: number;
}

/**
 * What an ingest publish is partitioned by: the device id of a JSON device topic, the edge node `{group}/{edge}` of
 * a Sparkplug B topic (births, data and deaths of the node and of all its devices, wills included: the node's
 * session, seq and alias map live in one partition). undefined: not an ingest topic (routed by the broker only).
 */
export function partitionKeyOf(topic: string): string | undefined {
  const parsed = parseIngestTopic(topic);
  if (parsed !== undefined) return parsed.device;
  return isSparkplugIngestTopic(topic) ? edgeNodeKey(topic) : undefined;
}

/**
 * The front end of a cluster gateway: the broker's gate puts each ingest publish on the partition of its key
 * (partitionKeyOf, partitionOf), and acknowledges a QoS 1 publish (PUBACK) only once JetStream has stored it on a majority of its
 * replicas. The publishes of one partition that arrive in the same turn of the event loop go in one stream message
 * (batch.ts; a group commit, as the single gateway's ingest log does), so JetStream's cost is paid per batch, not per
 * reading. The stream is the ingest log; nothing is processed here. Other topics are routed by the local broker.
 *
 * `Nats-Msg-Id` is the batch's identity (node, process start, counter): a publish retried after a timeout (a stream
 * leader election, a lost ack) is stored once (JetStream's duplicate window). A device that resends a publish (after
 * a gateway died) sends new bytes to JetStream; the pipeline's dedup drops the readings it has seen (device `ts` or
 * `seq`), exactly as on a single gateway. Not an id per device message: equal bytes are not the same reading (a bare
 * `21.5` sent twice is two readings), and one stream message per publish costs most of the front end's throughput
 * (docs/cluster.md, "Front end").
 */
export class IngestFront {
  private readonly js: StreamPublisher;
  private readonly boot = randomBytes(6).toString('base64url');
  private readonly open = new Map<number, OpenBatch>();
  private scheduled = false;
  private counter = 0;
  private closed = false;
  private inflight = 0;
  private idle: (() => void) | undefined;

  constructor(private readonly d: IngestFrontDeps) {
    this.js = new StreamPublisher(d.nc, 5_000);
  }

  readonly gate: IngestGate = (topic, given, qos, receivedAt, done) => {
    const key = partitionKeyOf(topic);
    if (key === undefined) return done(null);
    // The broker thread hands a QoS 0 payload in a Buffer it reuses for the next publish: valid during this call
    // only (publish-ring.ts, RecordHandler).
    const payload = qos === 0 ? Buffer.from(given) : given;
    const partition = partitionOf(key, this.d.config.cluster.partitions);
    const size = 14 + topic.length * 3 + payload.length;
    let b = this.open.get(partition);
    if (b !== undefined && b.bytes + size > MAX_BATCH_BYTES) {
      this.flush(partition);
      b = undefined;
    }
    if (b === undefined) {
      b = { records: [], waiters: [], bytes: 4, since: performance.now() };
      this.open.set(partition, b);
    }
    b.records.push({ topic, payload, receivedAt });
    b.bytes += size;
    // QoS 0 is at most once by contract: no wait, unless too many batches are in flight; then it waits for its
    // batch too, which makes aedes read no further from that client (backpressure instead of unbounded memory).
    if (qos > 0 || this.inflight >= MAX_INFLIGHT_BATCHES) b.waiters.push({ qos, done });
    else done(null);
    if (b.records.length >= MAX_BATCH_RECORDS) this.flush(partition);
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        for (const p of [...this.open.keys()]) this.flush(p);
      });
    }
  };

  /** Resolves once every publish handed to the gate has been acknowledged (or given up): the graceful stop. */
  async drain(): Promise<void> {
    this.closed = true;
    for (const p of [...this.open.keys()]) this.flush(p);
    if (this.inflight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    this.js.close();
  }

  private flush(partition: number): void {
    const b = this.open.get(partition);
    if (b === undefined) return;
    this.open.delete(partition);
    this.inflight++;
    const h = headers();
    // JetStream's duplicate detection (NATS docs, JetStream "Message Deduplication").
    h.set('Nats-Msg-Id', `${this.d.config.cluster.nodeId!}.${this.boot}.${++this.counter}`);
    void this.publish(partitionSubject(this.d.names, partition), encodeBatch(b.records), h).then((err) => {
      if (err === undefined) this.d.metrics.publishSeconds.observe((performance.now() - b.since) / 1000);
      else {
        for (const w of b.waiters) if (w.qos > 0) this.d.metrics.publishFailed.inc({ qos: '1' });
        const qos0 = b.records.length - b.waiters.filter((w) => w.qos > 0).length;
        if (qos0 > 0) this.d.metrics.publishFailed.inc({ qos: '0' }, qos0);
        this.d.log.warn('publish_failed', { partition, publishes: b.records.length, err: err.message }, 'ingest publishes not stored by JetStream');
      }
      for (const w of b.waiters) {
        try {
          w.done(w.qos > 0 ? (err ?? null) : null);
        } catch (e) {
          // A broker callback that throws must not become an unhandled rejection (which would end the process).
          this.d.log.warn('ack_failed', { partition, err: e instanceof Error ? e.message : String(e) }, 'acknowledging an ingest publish failed');
        }
      }
      if (--this.inflight === 0) this.idle?.();
    });
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

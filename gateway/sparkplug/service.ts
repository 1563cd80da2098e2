import type { Registry } from 'prom-client';
import type { BrokerFront, GatewayPublish } from '../broker/front.js';
import type { RateLimitedLog } from '../log.js';
import type { DecodeSink } from '../pipeline/decode.js';
import { DataType } from './datatypes.js';
import { decodeHostSnapshot, encodeHostSnapshot } from './host-snapshot.js';
import { SparkplugHost, type EdgeNodeStatus, type HostSettings } from './host.js';
import { mapMetrics, type MappingSink } from './mapping.js';
import type { SparkplugCodec } from './lazy-codec.js';
import { createSparkplugMetrics, LabelCounts, type SparkplugMetrics } from './metrics.js';
import { ncmdTopic, parseSparkplugTopic, stateTopic, type SparkplugTopic } from './topic.js';

export interface SparkplugDeps {
  readonly settings: HostSettings;
  /** sparkplug.hostId: the gateway announces itself as this primary host application (Sparkplug 3.0 section 4.2.3). */
  readonly hostId?: string | undefined;
  readonly registry: Registry;
  readonly maxPayloadBytes: number;
  /** Gateway clock, for the NCMD's timestamp only (message times come from the caller). */
  readonly now: () => number;
  /** NDEATH/DDEATH: the device's sensors are stale now (noData rules fire at once). */
  readonly stale: (device: string) => void;
  readonly log: RateLimitedLog;
  /** codec.ts, loaded after start-up (lazy-codec.ts): called only for a spBv1.0 publish or a rebirth request. */
  readonly codec: () => SparkplugCodec;
}

const TOPICS = 16_384;

/**
 * The gateway as a Sparkplug B host application (docs/sparkplug.md): spBv1.0 publishes -> decode -> the host
 * state machine -> readings into the same sink as every other ingest topic; rebirth requests out through the
 * broker. Called synchronously by Ingest for each publish on a Sparkplug topic, and by the gateway tick.
 */
export class SparkplugService {
  /** The host handle() and tick() work: the gateway's one, or (cluster) the partition being processed (use). */
  private current: SparkplugHost;
  /** Every host made here (one per cluster partition worked): for /health and gateway_sparkplug_edge_nodes. */
  private readonly hosts = new Set<SparkplugHost>();
  readonly metrics: SparkplugMetrics;
  private readonly topics = new Map<string, SparkplugTopic | undefined>();
  private readonly counts = { messages: new LabelCounts(), events: new LabelCounts(), skipped: new LabelCounts() };
  private broker: Pick<BrokerFront, 'publish'> | null = null;
  /** Rebirth requests made before the broker is attached (ingest log replay at start), one per node. */
  private queued = new Map<string, GatewayPublish>();
  private sink: DecodeSink | undefined;
  /** The timestamp of the STATE message last published. */
  private stateTs: number | undefined;
  private receivedAt = 0;
  private readonly mapping: MappingSink = {
    message: (msg) => this.sink!.message(msg),
    skip: (reason, detail) => {
      this.counts.skipped.inc(reason);
      if (reason === 'unsafe_integer' || reason === 'bad_value' || reason === 'bad_timestamp' || reason === 'unknown_type' || reason === 'bad_name') {
        this.deps.log.warn(`sparkplug:${reason}`, { reason, detail }, 'sparkplug metric refused');
      }
    },
  };

  constructor(private readonly deps: SparkplugDeps) {
    this.current = this.newHost(deps.stale);
    this.metrics = createSparkplugMetrics(
      deps.registry,
      () => this.nodeCounts(),
      () => this.publishCounts(),
    );
  }

  /** The host handle() feeds. */
  get host(): SparkplugHost {
    return this.current;
  }

  /**
   * A host of its own, sharing this service's decoding, counters and rebirth requests: one per partition of a
   * cluster gateway (cluster/partition-state.ts), whose edge nodes are stale through `stale`. Forget it with drop.
   */
  newHost(stale: (device: string) => void): SparkplugHost {
    const host = new SparkplugHost(this.deps.settings, {
      metrics: (device, metrics, payloadTs) => mapMetrics(device, metrics, payloadTs, this.receivedAt, this.mapping),
      rebirth: (group, edge, reason) => {
        this.metrics.rebirths.inc({ reason });
        this.sendRebirth(group, edge);
      },
      stale,
      event: (e) => this.counts.events.inc(e),
    });
    this.hosts.add(host);
    return host;
  }

  /** Points handle() and tick() at `host` (processing is synchronous: the partition whose message is processed). */
  use(host: SparkplugHost): void {
    this.current = host;
  }

  drop(host: SparkplugHost): void {
    this.hosts.delete(host);
  }

  /** Returns false when `topic` is not a Sparkplug ingest topic. */
  handle(topic: string, payload: Buffer, receivedAt: number, sink: DecodeSink): boolean {
    let t = this.topics.get(topic);
    if (t === undefined) {
      t = parseSparkplugTopic(topic);
      if (t === undefined) return false;
      if (this.topics.size >= TOPICS) this.topics.clear();
      this.topics.set(topic, t);
    }
    if (t.kind === 'invalid') {
      sink.reject('bad_topic', t.detail);
      return true;
    }
    this.counts.messages.inc(t.type);
    if (payload.length > this.deps.maxPayloadBytes) {
      sink.reject('payload_too_large', `payload of ${payload.length} bytes exceeds mqtt.maxPayloadBytes (${this.deps.maxPayloadBytes})`);
      return true;
    }
    const decoded = this.deps.codec().decodePayload(payload);
    if (!decoded.ok) {
      sink.reject('bad_payload', decoded.detail);
      return true;
    }
    this.sink = sink;
    this.receivedAt = receivedAt;
    this.current.handle(t.type, t.group, t.edge, t.device, decoded.payload, receivedAt);
    return true;
  }

  tick(now: number): void {
    this.current.tick(now);
  }

  /** The broker, once the gateway has restored and replayed its state; queued rebirth requests go out now. */
  attach(broker: Pick<BrokerFront, 'publish'>): void {
    this.broker = broker;
    const queued = this.queued;
    this.queued = new Map();
    for (const p of queued.values()) this.send(p);
    if (this.deps.hostId !== undefined) {
      // The gateway is the broker: it sees every publish without subscribing, so it is ready once attached.
      this.stateTs = this.deps.now();
      this.send(this.statePublish(true));
    }
  }

  /**
   * Graceful stop, before the broker closes: the retained STATE says offline (what a will would say; the gateway
   * is the broker, so it has no MQTT connection to leave one). Edge nodes waiting for their primary host then
   * disconnect or buffer. Its timestamp is now [tck-id-host-topic-phid-death-payload-disconnect-clean].
   * `via`: where to say it instead of the attached publisher (a cluster node: its own broker only, docs/cluster.md).
   */
  offline(via?: Pick<BrokerFront, 'publish'>): Promise<void> {
    const broker = via ?? this.broker;
    if (this.deps.hostId === undefined || broker === null) return Promise.resolve();
    this.stateTs = this.deps.now();
    return new Promise((resolve) => broker.publish(this.statePublish(false), () => resolve()));
  }

  /** `spBv1.0/STATE/{hostId}`, JSON `{"online", "timestamp"}`, QoS 1, retained ([tck-id-host-topic-phid-birth-payload], [tck-id-host-topic-phid-death-qos]). */
  private statePublish(online: boolean): GatewayPublish {
    const payload = Buffer.from(JSON.stringify({ online, timestamp: this.stateTs }));
    return { topic: stateTopic(this.deps.hostId!), payload, qos: 1, retain: true };
  }

  /** The checkpoint's part (FORMATS.sparkplugSnapshot) of `host`: one entry per edge node, captured whole. */
  snapshot(host: SparkplugHost = this.current): Buffer {
    return encodeHostSnapshot(host.edgeNodes());
  }

  /** Restores the checkpoint's part into `host`. Throws ByteFormatError when the bytes are not a host snapshot of this version. */
  restore(snapshot: Uint8Array, host: SparkplugHost = this.current): void {
    host.restore(decodeHostSnapshot(snapshot));
  }

  status(): { online: number; offline: number; nodes: EdgeNodeStatus[] } {
    const nodes = [...this.hosts].flatMap((h) => h.status());
    const online = nodes.filter((n) => n.online).length;
    return { online, offline: nodes.length - online, nodes };
  }

  private publishCounts(): void {
    this.counts.messages.moveTo(this.metrics.messages, 'type');
    this.counts.events.moveTo(this.metrics.events, 'event');
    this.counts.skipped.moveTo(this.metrics.skipped, 'reason');
  }

  private nodeCounts(): { online: number; offline: number } {
    const { online, offline } = this.status();
    return { online, offline };
  }

  /** NCMD `Node Control/Rebirth = true` (spec 4.2.1 NCMD: QoS 0, not retained [tck-id-topics-ncmd-mqtt], with a timestamp [tck-id-topics-ncmd-timestamp]). */
  private sendRebirth(group: string, edge: string): void {
    const payload = this.deps.codec().encodePayload({
      timestamp: this.deps.now(),
      metrics: [{ name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: { case: 'booleanValue', value: true } }],
    });
    const p: GatewayPublish = { topic: ncmdTopic(group, edge), payload: Buffer.from(payload), qos: 0, retain: false };
    if (this.broker === null) this.queued.set(p.topic, p);
    else this.send(p);
  }

  private send(p: GatewayPublish): void {
    this.broker!.publish(p, (err) => {
      if (err) this.deps.log.warn(`sparkplug:ncmd`, { err: err.message, topic: p.topic }, 'rebirth request publish failed');
    });
  }
}

import { headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import type { BrokerFront, GatewayPublish, PublishRelay } from '../broker/front.js';
import { topicProblem } from '../broker/topic-check.js';
import { RateLimitedLog, type Logger } from '../log.js';
import type { ConnectionState } from './connection-state.js';
import type { ClusterMetrics } from './metrics.js';

const H_NODE = 'Gw-Node';
const H_TOPIC = 'Gw-Topic';
const H_FLAGS = 'Gw-Flags';

/** How long a relayed QoS 1 client publish waits for the NATS server's word (confirm below) before it is PUBACKed anyway. */
export const RELAY_CONFIRM_MS = 2_000;
/**
 * The longest retained-bucket key (base64url of the topic) put in the KV: a key is part of a NATS subject, and a
 * subject in a protocol line longer than the server's max_control_line (4 KiB by default) makes the server close
 * the connection. Longer topics are relayed live but not kept for gateways that start later (counted as failed).
 */
const MAX_KV_KEY = 1_024;

type Publisher = Pick<BrokerFront, 'publish'>;
type Done = (err?: Error | null) => void;

export interface RelayDeps {
  readonly nc: NatsConnection;
  readonly connection: ConnectionState;
  /** The core NATS subject every gateway of the site publishes on and listens to (names.ts relay). */
  readonly subject: string;
  /** The retained messages of the cluster, key: base64url of the topic (names.ts retained). */
  readonly retained: KV;
  readonly nodeId: string;
  readonly metrics: ClusterMetrics;
  readonly log: Logger;
}

/**
 * An mqemitter over NATS core subjects (docs/cluster.md, "Across gateways"): every publish on a topic outside the
 * ingest contract, made by a client of this gateway (commands, a client's alerts, wills) or by the gateway itself
 * (alert states), is routed by the local broker and sent on one core NATS subject; every other gateway re-publishes
 * it on its own broker, at the same QoS, as the broker's own publish (not re-relayed: aedes gives the gate only
 * client publishes, so nothing loops). A gateway drops its own messages when NATS echoes them back, so nothing is
 * delivered twice on the origin. Ingest topics never come here: they go to the JetStream stream (ingest-front.ts).
 *
 * Retained ones are also kept in a KV bucket (key: the topic), which a gateway loads into its broker when it starts;
 * an empty retained payload removes the key, as it removes the broker's retained message [MQTT-3.3.1-10],
 * [MQTT-3.3.1-11].
 *
 * Delivery between gateways is at most once (core NATS): a QoS 1 client publish is PUBACKed once the NATS server
 * this gateway is connected to has received it (a PING after it came back: the server routed it to every gateway
 * connected then), or after RELAY_CONFIRM_MS without that word; each gateway then delivers it at QoS 1 to its own
 * subscribers (their sessions hold it as for any publish). While NATS is down nothing is buffered: the publish is
 * routed locally, acknowledged, and counted as `failed` (nats.js would otherwise hold it in memory without a bound).
 */
export class Relay {
  private sub: Subscription | undefined;
  private local: Publisher | undefined;
  private readonly warn: RateLimitedLog;
  private confirming: Done[] = [];
  private confirmScheduled = false;

  constructor(private readonly d: RelayDeps) {
    this.warn = new RateLimitedLog(d.log);
  }

  /** Connects the relay to the local broker: follows the others' publishes, then loads the retained state. */
  async attach(broker: Publisher): Promise<void> {
    this.local = broker;
    this.sub = this.d.nc.subscribe(this.d.subject, {
      callback: (err, m) => {
        if (err !== null || m.headers?.get(H_NODE) === this.d.nodeId) return;
        const topic = m.headers?.get(H_TOPIC) ?? '';
        const flags = m.headers?.get(H_FLAGS) ?? '';
        // Whatever is on the subject is checked as a client's topic would be: a name to publish on, not for the server.
        if (!isRelayable(topic) || topic.includes('+') || topic.includes('#') || !/^[01]r?$/.test(flags)) {
          this.d.metrics.relayed.inc({ direction: 'rejected' });
          this.warn.warn('relay_rejected', { topic: topic.slice(0, 200), flags }, 'message on the relay subject refused: not a publish a gateway sends');
          return;
        }
        this.d.metrics.relayed.inc({ direction: 'in' });
        broker.publish({ topic, payload: Buffer.from(m.data), qos: flags[0] === '1' ? 1 : 0, retain: flags[1] === 'r' }, (e) => {
          if (e) this.warn.warn('relay_local', { err: e.message, topic }, 'relayed publish failed on the local broker');
        });
      },
    });
    for await (const key of await this.d.retained.keys()) {
      const e = await this.d.retained.get(key);
      if (e === null || e.operation !== 'PUT' || e.value.length === 0) continue;
      const topic = Buffer.from(key, 'base64url').toString();
      if (isRelayable(topic)) broker.publish({ topic, payload: Buffer.from(e.value), qos: 0, retain: true }, () => {});
    }
  }

  /** What the gateway's publishers use instead of the broker: local publish, then the relay. */
  readonly publisher: Publisher = {
    publish: (packet: GatewayPublish, done: (err?: Error) => void) => {
      if (this.local === undefined) return done(new Error('relay is not attached'));
      this.local.publish(packet, done);
      this.send(packet.topic, packet.payload, packet.qos, packet.retain);
    },
  };

  /**
   * The broker's hand-off of a client publish on a non-ingest topic (front.ts PublishRelay), already authorised by
   * this gateway's ACL; subscribers elsewhere are authorised by their own gateway when they subscribe. Topics that
   * start with `$` are the server's [MQTT-4.7.2-1] and stay on this gateway.
   */
  readonly fromClients: PublishRelay = (topic, payload, qos, retain, done) => {
    if (!isRelayable(topic)) return done(null);
    if (!this.send(topic, payload, qos, retain) || qos === 0) return done(null);
    this.confirming.push(done);
    if (!this.confirmScheduled) {
      this.confirmScheduled = true;
      setImmediate(() => this.confirm());
    }
  };

  close(): void {
    this.sub?.unsubscribe();
    for (const done of this.confirming.splice(0)) done(null);
  }

  /** Sends one publish to the other gateways; false when it could not be handed to NATS (counted as failed). */
  private send(topic: string, payload: Buffer, qos: number, retain: boolean): boolean {
    if (!this.d.connection.connected) return this.failed(topic, 'NATS is disconnected');
    const h = headers();
    h.set(H_NODE, this.d.nodeId);
    h.set(H_TOPIC, topic);
    h.set(H_FLAGS, `${qos === 0 ? 0 : 1}${retain ? 'r' : ''}`);
    try {
      this.d.nc.publish(this.d.subject, payload, { headers: h });
    } catch (err) {
      // e.g. a payload above the server's max_payload (1 MiB by default).
      return this.failed(topic, err instanceof Error ? err.message : String(err));
    }
    this.d.metrics.relayed.inc({ direction: 'out' });
    if (retain) this.keepRetained(topic, payload);
    return true;
  }

  private keepRetained(topic: string, payload: Buffer): void {
    const key = Buffer.from(topic).toString('base64url');
    if (key.length > MAX_KV_KEY) {
      this.failed(topic, 'topic too long for the retained bucket');
      return;
    }
    const kept = payload.length === 0 ? this.d.retained.delete(key) : this.d.retained.put(key, payload);
    void kept.catch((err: unknown) => this.failed(topic, `retained state not stored in the cluster: ${err instanceof Error ? err.message : String(err)}`));
  }

  /** One PING for the QoS 1 publishes of this turn: its PONG says the server has everything sent before it. */
  private confirm(): void {
    const waiting = this.confirming;
    this.confirming = [];
    this.confirmScheduled = false;
    let settled = false;
    const settle = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!ok) {
        this.d.metrics.relayed.inc({ direction: 'failed' }, waiting.length);
        this.warn.warn('relay_failed', { publishes: waiting.length }, `QoS 1 publishes not confirmed by NATS within ${RELAY_CONFIRM_MS} ms`);
      }
      for (const done of waiting) done(null);
    };
    const timer = setTimeout(() => settle(false), RELAY_CONFIRM_MS);
    timer.unref();
    this.d.nc.flush().then(
      () => settle(true),
      () => settle(false),
    );
  }

  private failed(topic: string, why: string): false {
    this.d.metrics.relayed.inc({ direction: 'failed' });
    this.warn.warn('relay_failed', { topic: topic.slice(0, 200), why }, 'publish not relayed to the other gateways');
    return false;
  }
}

/** A topic a gateway relays: a valid publish topic name [MQTT-1.5.3-1/2] that is not the server's (`$...`). */
function isRelayable(topic: string): boolean {
  return topic.length > 0 && !topic.startsWith('$') && topicProblem(topic) === undefined;
}

import { headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import type { BrokerFront, GatewayPublish } from '../broker/front.js';
import type { Logger } from '../log.js';
import type { ClusterMetrics } from './metrics.js';

const H_NODE = 'Gw-Node';
const H_TOPIC = 'Gw-Topic';
const H_FLAGS = 'Gw-Flags';

type Publisher = Pick<BrokerFront, 'publish'>;

/**
 * The gateways' own publishes (alert states, commands to devices) reach subscribers whichever gateway they are
 * connected to: each is published on the local broker and on a core NATS subject that every other gateway
 * subscribes to and re-publishes on its own broker (an mqemitter over NATS, for the publishes the gateway makes).
 * Retained ones are also put in a KV bucket (key: the topic), which a gateway loads into its broker when it starts,
 * so a subscriber connecting to a gateway started later still gets the current alert state.
 * Client-to-client publishes on non-ingest topics stay on the gateway that received them (docs/cluster.md).
 */
export class Relay {
  private sub: Subscription | undefined;
  private local: Publisher | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subject: string,
    private readonly retained: KV,
    private readonly nodeId: string,
    private readonly metrics: ClusterMetrics,
    private readonly log: Logger,
  ) {}

  /** Connects the relay to the local broker: loads the retained state, then follows the others' publishes. */
  async attach(broker: Publisher): Promise<void> {
    this.local = broker;
    this.sub = this.nc.subscribe(this.subject, {
      callback: (err, m) => {
        if (err !== null || m.headers?.get(H_NODE) === this.nodeId) return;
        const topic = m.headers?.get(H_TOPIC);
        if (!topic) return;
        const flags = m.headers?.get(H_FLAGS) ?? '';
        this.metrics.relayed.inc({ direction: 'in' });
        broker.publish({ topic, payload: Buffer.from(m.data), qos: flags.includes('1') ? 1 : 0, retain: flags.includes('r') }, (e) => {
          if (e) this.log.warn({ err: e, topic }, 'relayed publish failed on the local broker');
        });
      },
    });
    for await (const key of await this.retained.keys()) {
      const e = await this.retained.get(key);
      if (e === null || e.operation !== 'PUT') continue;
      const topic = Buffer.from(key, 'base64url').toString();
      broker.publish({ topic, payload: Buffer.from(e.value), qos: 0, retain: true }, () => {});
    }
  }

  /** What the gateway's publishers use instead of the broker: local publish, then the relay. */
  readonly publisher: Publisher = {
    publish: (packet: GatewayPublish, done: (err?: Error) => void) => {
      if (this.local === undefined) return done(new Error('relay is not attached'));
      this.local.publish(packet, done);
      const h = headers();
      h.set(H_NODE, this.nodeId);
      h.set(H_TOPIC, packet.topic);
      h.set(H_FLAGS, `${packet.qos}${packet.retain ? 'r' : ''}`);
      try {
        this.nc.publish(this.subject, packet.payload, { headers: h });
        this.metrics.relayed.inc({ direction: 'out' });
      } catch (err) {
        this.log.warn({ err, topic: packet.topic }, 'publish not relayed to the other gateways');
      }
      if (packet.retain) {
        void this.retained
          .put(Buffer.from(packet.topic).toString('base64url'), packet.payload)
          .catch((err: unknown) => this.log.warn({ err, topic: packet.topic }, 'retained state not stored in the cluster'));
      }
    },
  };

  close(): void {
    this.sub?.unsubscribe();
  }
}

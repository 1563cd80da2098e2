import type { Aedes } from 'aedes';
import type { GatewayConfig } from '../config/schema.js';
import { credentialIdOf, type DeviceAccess } from '../auth/index.js';
import type { Logger } from '../log.js';
import type { BrokerMetrics } from '../metrics.js';
import { closeBroker, createBroker } from './broker.js';
import { brokerLimits } from './limits.js';
import { isIngestTopic } from '../wire/topics.js';
import type { BrokerFront, GatewayPublish, IngestGate, ListeningPorts, PublishRelay } from './front.js';
import { startListeners, type Listeners } from './listeners.js';
import { openBrokerPersistence, type OpenedPersistence } from './persistence/open.js';

export interface InProcessBrokerDeps {
  readonly log: Logger;
  readonly metrics: BrokerMetrics;
  readonly devices: DeviceAccess;
  readonly gate: IngestGate;
  /** Cluster mode: client publishes on non-ingest topics go here instead of the gate (front.ts). */
  readonly relay?: PublishRelay;
  readonly now: () => number;
}

/** aedes in the gateway's own thread (mqtt.brokerThread off): every publish goes through the gate synchronously. */
export class InProcessBroker implements BrokerFront {
  private aedes: Aedes | undefined;
  private listeners: Listeners | undefined;
  private store: OpenedPersistence | undefined;

  constructor(
    private readonly config: GatewayConfig,
    private readonly deps: InProcessBrokerDeps,
  ) {}

  async started(): Promise<void> {
    const { config, deps } = this;
    const { devices, gate, relay, now } = deps;
    this.store = await openBrokerPersistence(config.mqtt.sessions, config.buffer.dir, deps.log.child({ part: 'broker' }), {
      maxQueuedPerSession: config.mqtt.maxQueuedPerSession,
      onQueueFull: () => deps.metrics.mqttRefused.inc({ reason: 'session_queue_full' }),
    });
    this.aedes = await createBroker({
      persistence: this.store.persistence,
      log: deps.log.child({ part: 'broker' }),
      metrics: deps.metrics,
      gate: (_client, packet, done) =>
        relay !== undefined && !isIngestTopic(packet.topic)
          ? relay(packet.topic, packet.payload as Buffer, packet.qos, packet.retain, done)
          : gate(packet.topic, packet.payload as Buffer, packet.qos, now(), done),
      connectTimeoutMs: config.mqtt.connectTimeout,
      limits: brokerLimits(config.mqtt),
      drainTimeoutMs: config.mqtt.drainTimeout,
      deviceOf: (client) => credentialIdOf(devices.auth.principalOf(client)),
      authenticate: devices.auth.authenticate,
      authorizeSubscribe: devices.auth.authorizeSubscribe,
      authorizePublish: (client, packet) => devices.auth.authorizePublish(client, packet),
    });
    devices.attach(this.aedes);
  }

  async listen(): Promise<ListeningPorts> {
    const metrics = this.deps.metrics;
    this.listeners = await startListeners(this.aedes!, this.config.mqtt, this.deps.log, undefined, (reason) => metrics.mqttRefused.inc({ reason }));
    return { mqtt: this.listeners.mqttPort, ws: this.listeners.wsPort, tls: this.listeners.tlsPort };
  }

  publish(packet: GatewayPublish, done: (err?: Error) => void): void {
    if (!this.aedes) return done(new Error('broker is not started'));
    this.aedes.publish({ cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, dup: false }, (err) =>
      done(err ?? undefined),
    );
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  async close(): Promise<void> {
    // Stop accepting first, so nothing reaches the pipeline after its state is saved.
    const closingListeners = this.listeners?.close();
    if (this.aedes) await closeBroker(this.aedes);
    await closingListeners;
    await this.store?.close();
  }
}

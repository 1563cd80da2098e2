import type { ListeningPorts } from './thread/protocol.js';

export type { ListeningPorts };

/**
 * The gateway's gate for each PUBLISH on an ingest topic (DurableState.accept): `done` sends the PUBACK (QoS 1),
 * and may be called later (group commit). Called on the gateway's thread whichever front runs the broker.
 */
export type IngestGate = (topic: string, payload: Buffer, qos: number, receivedAt: number, done: (err?: Error | null) => void) => void;

/**
 * Where a client's PUBLISH on a topic outside the ingest contract goes besides the local subscribers (cluster mode:
 * to the other gateways, cluster/relay.ts). Called after the ACL let it through and before aedes routes it; `done`
 * lets aedes route it (and PUBACK a QoS 1 one), and may be called later. Not called for the gateway's own publishes.
 */
export type PublishRelay = (topic: string, payload: Buffer, qos: number, retain: boolean, done: (err?: Error | null) => void) => void;

/** A message the gateway itself publishes (alert state). */
export interface GatewayPublish {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

/**
 * What the gateway needs of its MQTT broker, wherever aedes runs: in the gateway's thread (InProcessBroker) or
 * on a thread of its own (BrokerThread, mqtt.brokerThread).
 */
export interface BrokerFront {
  /** Resolves once the broker and its auth hooks are ready (no socket open yet). */
  started(): Promise<void>;
  /** Opens the listeners (TCP, WebSocket, TLS) and returns their bound ports. */
  listen(): Promise<ListeningPorts>;
  publish(packet: GatewayPublish, done: (err?: Error) => void): void;
  readonly connectedClients: number;
  /** Stops accepting, closes every connection, and hands over what was received before. */
  close(): Promise<void>;
}

import type { GatewayConfig } from '../../config/schema.js';
import type { RingBuffers } from './publish-ring.js';

/**
 * Messages between the gateway (pipeline thread) and its broker thread. Ingest publishes do not travel here: they
 * go through the ring (publish-ring.ts). These are the rare ones: acknowledgements, the gateway's own publishes
 * (alerts), client publishes on other topics in cluster mode (alerts, commands: relayed to the other gateways),
 * life cycle, and the broker's logs (its counters are in shared memory: broker-counters.ts).
 */
export interface BrokerThreadData {
  readonly config: GatewayConfig;
  readonly ring: RingBuffers;
  /** The thread's counters (broker-counters.ts). */
  readonly counters: SharedArrayBuffer;
  /** The gateway logger's level: the thread logs through the gateway's logger at no lower level. */
  readonly logLevel: string;
  /** Cluster mode: client publishes on non-ingest topics are handed to the gateway too (`relay` below). */
  readonly relay: boolean;
}

/**
 * Relayed publishes (`relay` below) the gateway has not acknowledged yet, beyond which a QoS 0 one waits for its
 * acknowledgement like a QoS 1 one: aedes then reads no further from that client (backpressure), so a client flooding
 * a non-ingest topic while the gateway's thread is busy cannot queue messages on the channel without a bound.
 */
export const MAX_RELAY_OUTSTANDING = 1_024;
export const MAX_RELAY_OUTSTANDING_BYTES = 8 << 20;

export interface ListeningPorts {
  readonly mqtt: number;
  readonly ws: number | undefined;
  readonly tls: number | undefined;
}

export type ToBroker =
  /** The first message, and the only one before `ready`: the thread loads its modules before it knows its config. */
  | { readonly t: 'init'; readonly data: BrokerThreadData }
  | { readonly t: 'listen' }
  /** Publishes logged and processed: PUBACK them. */
  | { readonly t: 'acks'; readonly ids: readonly number[] }
  /** Publishes that cannot be acknowledged (the gateway is stopping): aedes closes their connections. */
  | { readonly t: 'nack'; readonly id: number; readonly message: string }
  | { readonly t: 'publish'; readonly id: number; readonly topic: string; readonly payload: Uint8Array; readonly qos: 0 | 1; readonly retain: boolean }
  | { readonly t: 'close' };

export type FromBroker =
  | { readonly t: 'ready' }
  | { readonly t: 'failed'; readonly message: string; readonly code?: string }
  | { readonly t: 'listening'; readonly ports: ListeningPorts }
  | { readonly t: 'listen-failed'; readonly message: string; readonly code?: string }
  | { readonly t: 'published'; readonly id: number; readonly error?: string }
  /**
   * A client's publish on a non-ingest topic, for the other gateways (BrokerThreadData.relay). The gateway acknowledges
   * each `ackId` (`acks`, as for the ring) once it is handed on: aedes then routes and PUBACKs a QoS 1 one; a QoS 0 one
   * was routed already, unless too many were outstanding (MAX_RELAY_OUTSTANDING).
   */
  | { readonly t: 'relay'; readonly ackId: number; readonly topic: string; readonly payload: Uint8Array; readonly qos: 0 | 1; readonly retain: boolean }
  | { readonly t: 'log'; readonly line: string }
  | { readonly t: 'closed' };

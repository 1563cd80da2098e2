import type { Duplex } from 'node:stream';
import type { AedesOptions, Client } from 'aedes';
import type { GatewayConfig } from '../config/schema.js';

/**
 * Broker limits that aedes does not have as options: the size of one MQTT packet and the number of subscriptions
 * of one client here; the retained store (retained-budget.ts), connections per address and per device
 * (connection-counts.ts), bytes queued per client and topic filter length (broker.ts). All exist so that one
 * hostile or broken client costs the gateway a bounded amount of memory.
 */

/**
 * Why the broker closed a connection or refused a subscription or a retained message (label of
 * gateway_mqtt_refused_total). The broker thread counts them in shared memory in this order (broker-counters.ts).
 */
export const REFUSED_REASONS = [
  'packet_too_large',
  'max_connections',
  'too_many_subscriptions',
  'connect_timeout',
  'protocol_error',
  'slow_consumer',
  'queue_full',
  'filter_too_long',
  'retained_limit',
  'max_connections_per_device',
  'max_connections_per_address',
  'invalid_topic',
  'tls_handshake',
  'protocol_version',
  'session_queue_full',
] as const;
export type RefusedReason = (typeof REFUSED_REASONS)[number];

/** The limits broker.ts enforces in aedes' hooks (the listeners enforce the connection and packet ones). */
export interface BrokerLimits {
  readonly maxSubscriptions: number;
  readonly maxQueuedBytes: number;
  readonly maxTopicFilterBytes: number;
  readonly maxRetainedMessages: number;
  readonly maxRetainedBytes: number;
  readonly maxConnectionsPerDevice: number;
}

export function brokerLimits(mqtt: GatewayConfig['mqtt']): BrokerLimits {
  const { maxSubscriptions, maxQueuedBytes, maxTopicFilterBytes, maxRetainedMessages, maxRetainedBytes, maxConnectionsPerDevice } = mqtt;
  return { maxSubscriptions, maxQueuedBytes, maxTopicFilterBytes, maxRetainedMessages, maxRetainedBytes, maxConnectionsPerDevice };
}

/**
 * Room for everything in a PUBLISH besides the payload: topic (at most 65,535 bytes [MQTT-1.5.3]), its length,
 * the packet id and MQTT 5 properties. A publish whose payload exceeds mqtt.maxPayloadBytes but fits here still
 * reaches ingest and is refused there as `payload_too_large` (counted per device, connection kept).
 */
export const PACKET_OVERHEAD_BYTES = 70 * 1024;

export function maxPacketBytes(maxPayloadBytes: number): number {
  return maxPayloadBytes + PACKET_OVERHEAD_BYTES;
}

/**
 * Watches the MQTT fixed headers on a connection and destroys it as soon as one declares a remaining length over
 * `maxRemaining`. mqtt-packet's parser would otherwise buffer the whole declared packet (up to 256 MB) before
 * handing it over, and aedes has no option to bound it.
 *
 * It observes rather than wraps: with aedes reading through `read()` (a 'readable' listener), a 'data' listener
 * sees each chunk synchronously as aedes takes it and does not change the flow. The connection object stays the
 * one aedes and the auth hooks see (remote address, TLS peer certificate). At most one chunk of the oversized
 * packet reaches the parser before the socket goes.
 *
 * Remaining length: 1 to 4 bytes, 7 bits each, least significant first [MQTT-2.2.3].
 */
const closedForSize = new WeakSet<object>();

/** True for a connection watchPacketSizes closed: the parser errors that follow are not counted again. */
export function wasClosedForSize(conn: object): boolean {
  return closedForSize.has(conn);
}

export function watchPacketSizes(conn: Duplex, maxRemaining: number, onTooLarge: (declared: number) => void): void {
  let inLength = false; // after the first header byte, reading the remaining-length bytes
  let length = 0;
  let multiplier = 1;
  let lengthBytes = 0;
  let skip = 0; // body bytes of the current packet still to pass
  const onData = (chunk: Buffer | string) => {
    if (typeof chunk === 'string') return;
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const b = chunk[i++]!;
      if (!inLength) {
        inLength = true;
        length = 0;
        multiplier = 1;
        lengthBytes = 0;
        continue;
      }
      length += (b & 0x7f) * multiplier;
      multiplier *= 128;
      lengthBytes++;
      if ((b & 0x80) === 0) {
        if (length > maxRemaining) {
          conn.off('data', onData);
          closedForSize.add(conn);
          onTooLarge(length);
          conn.destroy();
          return;
        }
        inLength = false;
        skip = length;
      } else if (lengthBytes === 4) {
        // Malformed remaining length: mqtt-packet reports it and aedes closes the connection.
        conn.off('data', onData);
        return;
      }
    }
  };
  conn.on('data', onData);
}

type AuthorizeSubscribe = NonNullable<AedesOptions['authorizeSubscribe']>;

export interface SubscriptionLimit {
  readonly authorizeSubscribe: AuthorizeSubscribe;
  /** Call from the broker's 'unsubscribe' event so the freed slots can be used again. */
  forget(client: Client, topics: readonly string[]): void;
}

/**
 * At most `max` distinct topic filters per client. Beyond it a subscription is refused with return code 128
 * [MQTT-3.9.3] (the others of the same SUBSCRIBE are granted) and `onRefused` is called. The slot is reserved
 * before the inner hook runs, so the filters of one SUBSCRIBE authorised concurrently cannot overshoot.
 *
 * Subscriptions restored from a persistent session (cleanSession false) do not pass through authorizeSubscribe
 * and are not counted; the gateway's persistence is in memory, so those exist only across reconnects.
 */
export function limitSubscriptions(max: number, inner: AuthorizeSubscribe | undefined, onRefused: (client: Client, topic: string) => void): SubscriptionLimit {
  const granted = new WeakMap<Client, Set<string>>();
  return {
    authorizeSubscribe(client, sub, done) {
      let topics = granted.get(client);
      if (topics === undefined) granted.set(client, (topics = new Set()));
      const known = topics.has(sub.topic);
      if (!known && topics.size >= max) {
        onRefused(client, sub.topic);
        return done(null, null);
      }
      if (!known) topics.add(sub.topic);
      const release = () => {
        if (!known) topics.delete(sub.topic);
      };
      if (inner === undefined) return done(null, sub);
      inner(client, sub, (err, s) => {
        if (err || !s) release();
        done(err, s);
      });
    },
    forget(client, list) {
      const topics = granted.get(client);
      if (topics) for (const t of list) topics.delete(t);
    },
  };
}

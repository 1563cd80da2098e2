import { Aedes, type AedesOptions, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { RateLimitedLog, type Logger } from '../log.js';
import type { BrokerMetrics } from '../metrics.js';
import { cacheRoutes } from './route-cache.js';
import { limitSubscriptions, wasClosedForSize, type RefusedReason } from './limits.js';
import { isProtocolVersionRefusal, isSupportedProtocolLevel, SUPPORTED_PROTOCOLS } from './protocol-version.js';
import { remoteAddressOf } from '../auth/device-auth.js';

/**
 * Called for every PUBLISH a client sends, before aedes acknowledges or routes it. aedes sends PUBACK only after
 * `done` is called, so a gate may defer it (durable acknowledgement). Passing an error to `done` makes aedes drop
 * the connection (MQTT 3.1.1 has no negative PUBACK), so a gate reports bad payloads through counters instead.
 */
export type PublishGate = (client: Client, packet: PublishPacket, done: (err?: Error | null) => void) => void;

export interface BrokerDeps {
  readonly log: Logger;
  readonly metrics: BrokerMetrics;
  readonly gate: PublishGate;
  /** Connect-time hooks (authentication, ACL) from the devices module; permissive when absent. */
  readonly authenticate?: AedesOptions['authenticate'];
  readonly authorizeSubscribe?: AedesOptions['authorizeSubscribe'];
  /** Topic ACL checked before the gate; an error refuses the publish (aedes then drops an MQTT 3.1.1 client). */
  readonly authorizePublish?: (client: Client, packet: PublishPacket) => Error | null;
  readonly connectTimeoutMs: number;
  /** mqtt.maxSubscriptions: distinct topic filters per client (limits.ts). */
  readonly maxSubscriptions?: number;
  /** mqtt.drainTimeout: a subscriber whose socket does not drain within this long is disconnected. */
  readonly drainTimeoutMs?: number;
  /** Sessions, retained messages and wills (persistence/open.ts); aedes keeps them in memory when absent. */
  readonly persistence?: AedesOptions['persistence'];
}

/** aedes reports limit violations as error messages; these become gateway_mqtt_refused_total reasons. */
function refusedReason(err: Error): RefusedReason | undefined {
  if (err.message === 'connect did not arrive in time') return 'connect_timeout';
  if (err.message === 'drain timeout') return 'slow_consumer';
  if (isProtocolVersionRefusal(err)) return 'protocol_version';
  // mqtt-packet parse errors (bad header flags, malformed lengths, unknown packet types...) and aedes' own
  // refusals of packets before CONNECT.
  if (/^(Invalid|Malformed|Packet|Cannot parse|Unknown|Not supported|Connect flag|Will |Client queue limit)/.test(err.message)) return 'protocol_error';
  return undefined;
}

export async function createBroker(deps: BrokerDeps): Promise<Aedes> {
  const { log, metrics } = deps;
  const options: AedesOptions = {
    connectTimeout: deps.connectTimeoutMs,
    // No cap on deliveries in flight inside mqemitter. With a cap (aedes' default 100), publishes queue up behind
    // a slow subscriber, and once it drains, mqemitter works the queue off recursively and can overflow the stack
    // under load (seen in our benchmark; mcollina/mqemitter#204, moscajs/aedes#193). Uncapped, a delivery is a
    // write into the subscriber's socket, and a subscriber that stops reading is cut off by drainTimeout.
    concurrency: 0,
    // aedes calls authorizePublish with client === null for the stored wills of clients it no longer knows (those
    // of a previous run: checked when their client connected, authorizeWillAtConnect) and for its own $SYS traffic.
    authorizePublish: (client, packet, done) => {
      if (client === null) return done(null);
      const refused = deps.authorizePublish?.(client, packet);
      if (refused) return done(refused);
      deps.gate(client, packet, done);
    },
  };
  if (deps.drainTimeoutMs !== undefined) options.drainTimeout = deps.drainTimeoutMs;
  if (deps.persistence !== undefined) options.persistence = deps.persistence;
  // One SUBSCRIBE may carry thousands of refused filters: a few lines per client, then a count of the rest.
  const refusedLog = new RateLimitedLog(log);
  const subscriptions = limitSubscriptions(deps.maxSubscriptions ?? Infinity, deps.authorizeSubscribe, (client, topic) => {
    metrics.mqttRefused.inc({ reason: 'too_many_subscriptions' });
    refusedLog.warn(`subscriptions:${client.id}`, { clientId: client.id, topic: topic.slice(0, 200), max: deps.maxSubscriptions }, 'subscription refused: too many subscriptions for one client');
  });
  options.authorizeSubscribe = subscriptions.authorizeSubscribe;
  // aedes refuses an MQTT 5 CONNECT after this hook, once the socket may be gone: note who asked, while it is known.
  const askedFor = new WeakMap<Client, { address: string; protocolLevel: number; clientId: string }>();
  const wills = new WeakMap<Client, PublishPacket>();
  options.preConnect = (client, packet, done) => {
    const level = packet.protocolVersion ?? 4;
    if (!isSupportedProtocolLevel(level)) askedFor.set(client, { address: remoteAddressOf(client), protocolLevel: level, clientId: packet.clientId.slice(0, 200) });
    if (packet.will) wills.set(client, { ...packet.will, cmd: 'publish', qos: packet.will.qos ?? 0, dup: false, retain: packet.will.retain ?? false } as PublishPacket);
    done(null, true);
  };
  if (deps.authenticate) options.authenticate = authorizeWillAtConnect(deps.authenticate, wills, deps.authorizePublish);
  const broker = await Aedes.createBroker(options);
  if (!cacheRoutes(broker)) log.warn('aedes internals changed: publishes are routed without the per-topic cache (slower, not wrong)');
  broker.on('unsubscribe', (topics, client) => subscriptions.forget(client, topics));
  // The parser may report several errors for one connection before it closes (also after the size guard closed
  // it, listeners.ts): count each connection once.
  const counted = new WeakSet<Client>();
  const countRefusal = (client: Client, err: Error) => {
    const reason = refusedReason(err);
    if (reason && !counted.has(client) && !wasClosedForSize(client.conn)) {
      counted.add(client);
      metrics.mqttRefused.inc({ reason });
    }
    return reason;
  };
  broker.on('client', () => metrics.connectedClients.inc());
  broker.on('clientDisconnect', () => metrics.connectedClients.dec());
  broker.on('clientError', (client, err) => {
    const reason = countRefusal(client, err);
    if (reason === 'slow_consumer') log.warn({ clientId: client.id, reason }, 'subscriber disconnected: its socket did not drain in time (mqtt.drainTimeout)');
    else log.debug({ clientId: client.id, err: err.message, reason }, 'client error');
  });
  broker.on('connectionError', (client, err) => {
    const reason = countRefusal(client, err);
    if (reason !== 'protocol_version') return log.debug({ err: err.message, reason }, 'connection error before CONNECT');
    const asked = askedFor.get(client) ?? { address: remoteAddressOf(client) };
    refusedLog.warn(`protocol:${asked.address}`, { reason, ...asked, err: err.message }, `MQTT connection refused: unsupported protocol version (this broker speaks ${SUPPORTED_PROTOCOLS}; MQTT 5 is not supported)`);
  });
  return broker;
}

/**
 * A will is checked against the client's publish rules when it connects, not only when it is published: aedes stores
 * wills with the session (mqtt.sessions: disk), and one left by a client of a broker that was killed is published
 * after the restart without its client (authorizePublish gets null: nobody to check against). A client that may
 * not publish its will is refused with CONNACK 5 (not authorized) and counted as publish_denied.
 */
function authorizeWillAtConnect(
  authenticate: NonNullable<AedesOptions['authenticate']>,
  wills: WeakMap<Client, PublishPacket>,
  authorizePublish: BrokerDeps['authorizePublish'],
): NonNullable<AedesOptions['authenticate']> {
  return (client, username, password, done) =>
    authenticate(client, username, password, (err, ok) => {
      const will = wills.get(client);
      wills.delete(client);
      if (err || !ok || !will || !authorizePublish) return done(err, ok);
      const refused = authorizePublish(client, will);
      if (!refused) return done(null, true);
      done(Object.assign(new Error(`will refused: ${refused.message}`), { returnCode: 5 }) as AuthenticateError, false);
    });
}

export function closeBroker(broker: Aedes): Promise<void> {
  return new Promise((resolve) => broker.close(() => resolve()));
}

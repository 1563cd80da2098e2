import './quiet-debug.js';
import './packet-reads.js';
import './packet-writes.js';
import type { Aedes, AedesOptions, AuthenticateError, Client, PublishPacket } from 'aedes';
import { RateLimitedLog, type Logger } from '../log.js';
import type { BrokerMetrics } from '../metrics.js';
import { ConnectionCounts } from './connection-counts.js';
import { cacheRoutes, EVERYONE, type Audience } from './route-cache.js';
import { limitSubscriptions, wasClosedForSize, type BrokerLimits, type RefusedReason } from './limits.js';
import { RetainedBudget } from './retained-budget.js';
import { topicProblem } from './topic-check.js';
import { isProtocolVersionRefusal, isSupportedProtocolLevel, SUPPORTED_PROTOCOLS } from './protocol-version.js';
import { remoteAddressOf } from '../auth/device-auth.js';

/**
 * Called for every PUBLISH a client sends, before aedes acknowledges or routes it. aedes sends PUBACK only after
 * `done` is called, so a gate may defer it (durable acknowledgement). Passing an error to `done` makes aedes drop
 * the connection (MQTT 3.1.1 has no negative PUBACK), so a gate reports bad payloads through counters instead.
 * `audience` says whether any subscription could ever receive a publish on a topic (route-cache.ts).
 */
export type PublishGate = (client: Client, packet: PublishPacket, done: (err?: Error | null) => void, audience: Audience) => void;

export interface BrokerDeps {
  readonly log: Logger;
  readonly metrics: BrokerMetrics;
  readonly gate: PublishGate;
  /** Connect-time hooks (authentication, ACL) from the devices module; permissive when absent. */
  readonly authenticate?: AedesOptions['authenticate'];
  readonly authorizeSubscribe?: AedesOptions['authorizeSubscribe'];
  /** Topic ACL checked before the gate; an error refuses the publish (aedes then drops an MQTT 3.1.1 client). */
  readonly authorizePublish?: (client: Client, packet: PublishPacket) => Error | null;
  /** The device an authenticated client is (mqtt.maxConnectionsPerDevice); undefined for anonymous clients. */
  readonly deviceOf?: (client: Client) => string | undefined;
  readonly connectTimeoutMs: number;
  /** mqtt.drainTimeout: a subscriber whose socket does not drain within this long is disconnected. */
  readonly drainTimeoutMs?: number;
  /** The mqtt.* limits enforced inside aedes' hooks (limits.ts brokerLimits); none when absent. */
  readonly limits?: Partial<BrokerLimits>;
  /** Sessions, retained messages and wills (persistence/open.ts); aedes keeps them in memory when absent. */
  readonly persistence?: AedesOptions['persistence'];
}

const QUEUE_FULL = 'send queue over mqtt.maxQueuedBytes';

/** aedes reports limit violations as error messages; these become gateway_mqtt_refused_total reasons. */
function refusedReason(err: Error): RefusedReason | undefined {
  if (err.message === 'connect did not arrive in time') return 'connect_timeout';
  if (err.message === 'drain timeout') return 'slow_consumer';
  if (err.message === QUEUE_FULL) return 'queue_full';
  if (isProtocolVersionRefusal(err)) return 'protocol_version';
  // mqtt-packet parse errors (bad header flags, malformed lengths, unknown packet types...) and aedes' own
  // refusals of packets before CONNECT.
  if (/^(Invalid|Malformed|Packet|Cannot parse|Unknown|Not supported|Connect flag|Will |Client queue limit)/.test(err.message)) return 'protocol_error';
  return undefined;
}

const SLOW: Partial<Record<RefusedReason, string>> = {
  slow_consumer: 'subscriber disconnected: its socket did not drain in time (mqtt.drainTimeout)',
  queue_full: 'subscriber disconnected: more bytes waiting for it than mqtt.maxQueuedBytes',
};

const payloadBytes = (p: Buffer | string) => (typeof p === 'string' ? Buffer.byteLength(p) : p.length);

export async function createBroker(deps: BrokerDeps): Promise<Aedes> {
  const { log, metrics } = deps;
  const limits = deps.limits ?? {};
  // Every refusal is logged through here: a few lines per key every 10 s, then a count of the rest.
  const refusedLog = new RateLimitedLog(log);
  // A connection is counted once, whatever number of errors the refusal that closes it makes aedes report (a
  // slow consumer's drain timeout fails each of its pending writes; the parser may go on after the size guard).
  const counted = new WeakSet<Client>();
  const countOnce = (client: Client, reason: RefusedReason): boolean => {
    if (counted.has(client) || wasClosedForSize(client.conn)) return false;
    counted.add(client);
    metrics.mqttRefused.inc({ reason });
    return true;
  };

  const retained = new RetainedBudget(limits.maxRetainedMessages ?? Infinity, limits.maxRetainedBytes ?? Infinity);
  const perDevice = new ConnectionCounts(limits.maxConnectionsPerDevice ?? Infinity);
  const maxQueued = limits.maxQueuedBytes ?? Infinity;
  const maxFilter = limits.maxTopicFilterBytes ?? Infinity;
  // Until the broker exists, and for good with a session store (its sessions restored at start never passed
  // through the emitter that the audience watches): anyone may be listening.
  let audience: Audience = EVERYONE;
  const options: AedesOptions = {
    connectTimeout: deps.connectTimeoutMs,
    // No cap on deliveries in flight inside mqemitter. With a cap (aedes' default 100), publishes queue up behind
    // a slow subscriber, and once it drains, mqemitter works the queue off recursively and can overflow the stack
    // under load (seen in our benchmark; mcollina/mqemitter#204, moscajs/aedes#193). Uncapped, a delivery is a
    // write into the subscriber's socket, and a subscriber that stops reading is cut off by mqtt.maxQueuedBytes
    // (authorizeForward below) or drainTimeout, whichever comes first.
    concurrency: 0,
    // aedes calls authorizePublish with client === null for the stored wills of clients it no longer knows (those
    // of a previous run: checked when their client connected, authorizeWillAtConnect) and for its own $SYS traffic.
    authorizePublish: (client, packet, done) => {
      if (client === null) return done(null);
      const problem = topicProblem(packet.topic);
      if (problem !== undefined) {
        // [MQTT-1.5.3-1], [MQTT-1.5.3-2]: the receiver MUST close the network connection (the error does).
        if (countOnce(client, 'invalid_topic'))
          refusedLog.warn('invalid_topic', { clientId: client.id, problem }, 'MQTT PUBLISH refused: topic is not a valid UTF-8 string; connection closed');
        return done(new Error(`topic refused: ${problem}`));
      }
      const refused = deps.authorizePublish?.(client, packet);
      if (refused) return done(refused);
      if (packet.retain && !retained.admit(packet.topic, payloadBytes(packet.payload))) {
        // Delivered and ingested, not stored as the retained message (retained-budget.ts says why).
        packet.retain = false;
        metrics.mqttRefused.inc({ reason: 'retained_limit' });
        refusedLog.warn(
          'retained_limit',
          { clientId: client.id, topic: packet.topic.slice(0, 200), retained: retained.messages, retainedBytes: retained.storedBytes },
          'retained message not stored: mqtt.maxRetainedMessages or mqtt.maxRetainedBytes reached',
        );
      }
      deps.gate(client, packet, done, audience);
    },
    // Called for each delivery to a subscriber, before aedes queues its write: a client whose socket holds more
    // than mqtt.maxQueuedBytes unsent is disconnected (counted and logged in 'clientError' below).
    authorizeForward: (client, packet) => {
      const conn = client.conn;
      if (conn.writableLength <= maxQueued) return packet;
      if (!conn.destroyed) conn.destroy(new Error(QUEUE_FULL));
      return null;
    },
  };
  if (deps.drainTimeoutMs !== undefined) options.drainTimeout = deps.drainTimeoutMs;
  if (deps.persistence !== undefined) options.persistence = deps.persistence;
  // aedes refuses an MQTT 5 CONNECT after this hook, once the socket may be gone: note who asked, while it is known.
  const askedFor = new WeakMap<Client, { address: string; protocolLevel: number; clientId: string }>();
  const wills = new WeakMap<Client, PublishPacket>();
  options.preConnect = (client, packet, done) => {
    const level = packet.protocolVersion ?? 4;
    if (!isSupportedProtocolLevel(level))
      askedFor.set(client, { address: remoteAddressOf(client), protocolLevel: level, clientId: packet.clientId.slice(0, 200) });
    if (packet.will)
      wills.set(client, { ...packet.will, cmd: 'publish', qos: packet.will.qos ?? 0, dup: false, retain: packet.will.retain ?? false } as PublishPacket);
    done(null, true);
  };
  // The will is checked first (a refused one takes no per-device connection slot), then mqtt.maxConnectionsPerDevice.
  const authenticate = authorizeWillAtConnect(deps.authenticate ?? ((_c, _u, _p, done) => done(null, true)), wills, deps.authorizePublish);
  options.authenticate = (client, username, password, done) =>
    authenticate(client, username, password, (err, ok) => {
      const device = err || !ok ? undefined : deps.deviceOf?.(client);
      if (device === undefined || perDevice.takeFor(device, client.conn)) return done(err, ok);
      metrics.mqttRefused.inc({ reason: 'max_connections_per_device' });
      refusedLog.warn(
        `device_connections:${device}`,
        { device, clientId: client.id, max: perDevice.max },
        'MQTT connection refused: mqtt.maxConnectionsPerDevice reached',
      );
      done(Object.assign(new Error('too many connections for this device'), { returnCode: 3 }) as AuthenticateError, false);
    });
  const subscriptions = limitSubscriptions(limits.maxSubscriptions ?? Infinity, deps.authorizeSubscribe, (client, topic) => {
    metrics.mqttRefused.inc({ reason: 'too_many_subscriptions' });
    refusedLog.warn(
      `subscriptions:${client.id}`,
      { clientId: client.id, topic: topic.slice(0, 200), max: limits.maxSubscriptions },
      'subscription refused: too many subscriptions for one client',
    );
  });
  options.authorizeSubscribe = (client, sub, done) => {
    const problem = topicProblem(sub.topic);
    if (problem !== undefined) {
      if (countOnce(client, 'invalid_topic'))
        refusedLog.warn(
          'invalid_topic',
          { clientId: client.id, problem },
          'MQTT SUBSCRIBE refused: topic filter is not a valid UTF-8 string; connection closed',
        );
      return done(new Error(`topic filter refused: ${problem}`));
    }
    if (sub.topic.length > maxFilter || Buffer.byteLength(sub.topic) > maxFilter) {
      metrics.mqttRefused.inc({ reason: 'filter_too_long' });
      refusedLog.warn(
        `filter_too_long:${client.id}`,
        { clientId: client.id, bytes: Buffer.byteLength(sub.topic), max: maxFilter },
        'subscription refused: topic filter longer than mqtt.maxTopicFilterBytes',
      );
      return done(null, null); // return code 128 in the SUBACK [MQTT-3.9.3]; the connection stays
    }
    subscriptions.authorizeSubscribe(client, sub, done);
  };
  // aedes is loaded here, not by an import declaration at the top: a module's import declarations are evaluated
  // before any of its code, and in the bundled build (dist/bundle/) the code of quiet-debug.ts, packet-reads.ts and
  // packet-writes.ts sits in the same chunk as this module's. Imported, aedes (with mqtt-packet and its debug
  // loggers) would load before them, and quiet-debug.ts would find debug loaded already; loaded here, it comes after
  // them in both builds.
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker(options);
  // Retained messages restored from the session store (mqtt.sessions: disk) count against the retained budget
  // before any client can publish: createBroker resolves before the listeners open.
  if (deps.persistence !== undefined) await countRestoredRetained(deps.persistence, retained);
  const routes = cacheRoutes(broker);
  if (routes === undefined) log.warn('aedes internals changed: publishes are routed without the per-topic cache (slower, not wrong)');
  else if (deps.persistence === undefined) audience = routes;
  broker.on('unsubscribe', (topics, client) => subscriptions.forget(client, topics));
  broker.on('client', () => metrics.connectedClients.inc());
  broker.on('clientDisconnect', () => metrics.connectedClients.dec());
  broker.on('clientError', (client, err) => {
    const reason = refusedReason(err);
    const first = reason !== undefined && countOnce(client, reason);
    const slow = reason && SLOW[reason];
    if (slow) {
      if (first) refusedLog.warn(reason, { clientId: client.id, reason }, slow);
    } else log.debug({ clientId: client.id, err: err.message, reason }, 'client error');
  });
  broker.on('connectionError', (client, err) => {
    const reason = refusedReason(err);
    if (reason) countOnce(client, reason);
    if (reason !== 'protocol_version') return log.debug({ err: err.message, reason }, 'connection error before CONNECT');
    const asked = askedFor.get(client) ?? { address: remoteAddressOf(client) };
    refusedLog.warn(
      `protocol:${asked.address}`,
      { reason, ...asked, err: err.message },
      `MQTT connection refused: unsupported protocol version (this broker speaks ${SUPPORTED_PROTOCOLS}; MQTT 5 is not supported)`,
    );
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

/** What countRestoredRetained needs of an aedes persistence (aedes-persistence's createRetainedStream: a Readable). */
interface RetainedSource {
  createRetainedStream(pattern: string): AsyncIterable<Pick<PublishPacket, 'topic' | 'payload'>>;
}

/** Reads the retained messages aedes' persistence holds into the budget (retained-budget.ts restore). */
async function countRestoredRetained(store: RetainedSource, budget: RetainedBudget): Promise<void> {
  for await (const packet of store.createRetainedStream('#')) {
    budget.restore(packet.topic, payloadBytes(packet.payload));
  }
}

export function closeBroker(broker: Aedes): Promise<void> {
  return new Promise((resolve) => broker.close(() => resolve()));
}

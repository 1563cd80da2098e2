/**
 * The broker thread (mqtt.brokerThread): aedes, its listeners and the device auth hooks run here, so MQTT
 * parsing and routing take one core and decode, dedup, windows, alerts and the outbox take another. Each
 * PUBLISH on an ingest topic (wire/topics.ts) is copied into the publish ring for the gateway; a QoS >= 1 one is
 * acknowledged (PUBACK) only when the gateway says it is logged (acks). Everything else is routed here; in cluster
 * mode (`relay` of its init message) it is also handed to the gateway for the other gateways (relay below).
 */
import { parentPort } from 'node:worker_threads';
import type { Aedes, Client, PublishPacket } from 'aedes';
import { pino } from 'pino';
import { createDeviceAccess, credentialIdOf, type DeviceAccess } from '../../auth/index.js';
import { isIngestTopic } from '../../wire/topics.js';
import { closeBroker, createBroker } from '../broker.js';
import { brokerLimits } from '../limits.js';
import { startListeners, type Listeners } from '../listeners.js';
import { openBrokerPersistence, type OpenedPersistence } from '../persistence/open.js';
import { sharedBrokerMetrics } from './broker-counters.js';
import { MAX_RELAY_OUTSTANDING, MAX_RELAY_OUTSTANDING_BYTES, type BrokerThreadData, type FromBroker, type ToBroker } from './protocol.js';
import { AckTable } from './ack-table.js';
import { OwnPubacks } from './own-pubacks.js';
import type { Audience } from '../route-cache.js';
import { RingWriter } from './publish-ring.js';

type Done = (err?: Error | null) => void;

const port = parentPort!;
// The modules above load as soon as the thread starts (main.ts starts it before it reads the config); the config
// comes in the first message (protocol.ts), and nothing else comes before this thread says `ready`.
const data = await new Promise<BrokerThreadData>((resolve) => port.once('message', (m: ToBroker) => m.t === 'init' && resolve(m.data)));
const config = data.config;
const post = (m: FromBroker) => port.postMessage(m);

// Logs go to the gateway's logger (one stream, and tests capture it): a JSON line each.
const log = pino({ level: data.logLevel, base: null, timestamp: false }, { write: (line: string) => post({ t: 'log', line }) });

const metrics = sharedBrokerMetrics(data.counters);

const ring = new RingWriter(data.ring);

/** QoS >= 1 publishes handed to the gateway, by ack id, until it acknowledges them. */
const waitingAck = new AckTable<Done>();
let nextAckId = 1;
/** Publishes that found the ring full, in arrival order; each one holds its client's socket until it is in. */
const held: { topic: string; payload: Buffer; qos: number; done: Done }[] = [];
let retry: NodeJS.Timeout | undefined;

function hand(topic: string, payload: Buffer, qos: number, done: Done): boolean {
  const id = qos > 0 ? nextId() : 0;
  if (!ring.push(topic, payload, qos, id)) return false;
  if (qos > 0) waitingAck.set(id, done);
  else done(null);
  return true;
}

/**
 * QoS 1 ingest publishes nobody can receive are acknowledged by this thread (own-pubacks.ts), at most this many
 * per client at a time (well above the window of a publisher that waits for its PUBACKs, the load generator's 100).
 */
const OWN_PUBACKS_PER_CLIENT = 256;
const ownPubacks = new OwnPubacks(OWN_PUBACKS_PER_CLIENT);

/** Hands a QoS 1 publish to the gateway with this thread to acknowledge it, and lets aedes forget it at once. */
function handOwn(client: Client, packet: PublishPacket, messageId: number): boolean {
  const id = nextId();
  if (!ring.push(packet.topic, packet.payload as Buffer, 1, id)) return false;
  waitingAck.set(id, ownPubacks.waiter(client, messageId));
  // aedes sends no PUBACK for it and routes it as QoS 0, i.e. to nobody: the audience said nobody can receive it.
  packet.qos = 0;
  return true;
}

function handHeld(): void {
  retry = undefined;
  let i = 0;
  while (i < held.length && hand(held[i]!.topic, held[i]!.payload, held[i]!.qos, held[i]!.done)) i++;
  held.splice(0, i);
  if (held.length > 0) retry = setTimeout(handHeld, 1);
}

function nextId(): number {
  const id = nextAckId;
  nextAckId = id === 0xffffffff ? 1 : id + 1;
  return id;
}

let relayOutstanding = 0;
let relayOutstandingBytes = 0;

/**
 * Cluster mode: a client's publish on a non-ingest topic goes to the gateway's thread (which owns the NATS
 * connection) through the message channel, not the ring: these are rare (commands, statuses), and ingest keeps its
 * path untouched. QoS 1 is routed and PUBACKed when the gateway acknowledges it (cluster/relay.ts says when); QoS 0
 * at once, unless too many are outstanding (above).
 */
function relay(packet: PublishPacket, done: Done): void {
  const qos = packet.qos === 0 ? 0 : 1;
  const ackId = nextId();
  // A copy of its own: a Buffer that is a view of a pooled one would be cloned with its whole pool.
  const payload = new Uint8Array(packet.payload as Buffer);
  relayOutstanding++;
  relayOutstandingBytes += payload.length;
  const wait = qos === 1 || relayOutstanding > MAX_RELAY_OUTSTANDING || relayOutstandingBytes > MAX_RELAY_OUTSTANDING_BYTES;
  waitingAck.set(ackId, (err) => {
    relayOutstanding--;
    relayOutstandingBytes -= payload.length;
    if (wait) done(err);
  });
  post({ t: 'relay', ackId, topic: packet.topic, payload, qos, retain: packet.retain });
  if (!wait) done(null);
}

function gate(client: Client, packet: PublishPacket, done: Done, audience: Audience): void {
  const topic = packet.topic;
  if (!isIngestTopic(topic)) {
    // Its PUBACK must not overtake those of the client's earlier ingest publishes [MQTT-4.6.0-2].
    const answer = packet.qos > 0 ? ownPubacks.ordered(client, done) : done;
    return data.relay ? relay(packet, answer) : answer(null);
  }
  const payload = packet.payload as Buffer;
  const messageId = packet.messageId;
  if (held.length === 0 && packet.qos === 1 && messageId !== undefined && !packet.retain && !audience.mayReach(topic) && ownPubacks.take(client)) {
    if (handOwn(client, packet, messageId)) return done(null);
    ownPubacks.give(client);
  }
  // In turn with the client's publishes on the broker thread's own PUBACK path, if it has any.
  const answer = packet.qos > 0 ? ownPubacks.ordered(client, done) : done;
  if (held.length === 0 && hand(topic, payload, packet.qos, answer)) return;
  // Cannot happen with the ring sized from mqtt.maxPayloadBytes (broker-thread.ts); refused rather than held forever.
  if (!ring.fits(topic, payload)) return answer(new Error('publish larger than the broker thread ring'));
  held.push({ topic, payload, qos: packet.qos, done: answer });
  metrics.brokerHeld!.inc(1);
  retry ??= setTimeout(handHeld, 1);
}

let devices: DeviceAccess | undefined;
let broker: Aedes | undefined;
let listeners: Listeners | undefined;
let store: OpenedPersistence | undefined;

async function start(): Promise<void> {
  devices = createDeviceAccess(config, { log: log.child({ part: 'auth' }), metrics });
  // The persistence lives where aedes runs: this thread.
  store = await openBrokerPersistence(config.mqtt.sessions, config.buffer.dir, log.child({ part: 'broker' }), {
    maxQueuedPerSession: config.mqtt.maxQueuedPerSession,
    onQueueFull: () => metrics.mqttRefused.inc({ reason: 'session_queue_full' }),
  });
  broker = await createBroker({
    persistence: store.persistence,
    log: log.child({ part: 'broker' }),
    metrics,
    gate,
    connectTimeoutMs: config.mqtt.connectTimeout,
    limits: brokerLimits(config.mqtt),
    drainTimeoutMs: config.mqtt.drainTimeout,
    deviceOf: (client) => credentialIdOf(devices!.auth.principalOf(client)),
    authenticate: devices.auth.authenticate,
    authorizeSubscribe: devices.auth.authorizeSubscribe,
    authorizePublish: (client, packet) => devices!.auth.authorizePublish(client, packet),
  });
  devices.attach(broker);
}

async function listen(): Promise<void> {
  listeners = await startListeners(broker!, config.mqtt, log, undefined, (reason) => metrics.mqttRefused.inc({ reason }));
  post({ t: 'listening', ports: { mqtt: listeners.mqttPort, ws: listeners.wsPort, tls: listeners.tlsPort } });
}

async function close(): Promise<void> {
  if (retry) clearTimeout(retry);
  // Stop accepting first, as the in-process gateway does (app.ts stop).
  const closingListeners = listeners?.close();
  if (broker) await closeBroker(broker);
  await closingListeners;
  await store?.close();
  devices?.close();
  for (const h of held.splice(0)) h.done(new Error('gateway is stopping'));
  post({ t: 'closed' });
}

const codeOf = (err: unknown) =>
  typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

port.on('message', (m: ToBroker) => {
  switch (m.t) {
    case 'init': // taken above
      break;
    case 'acks':
      for (const id of m.ids) waitingAck.take(id)?.(null);
      break;
    case 'nack':
      waitingAck.take(m.id)?.(new Error(m.message));
      break;
    case 'publish':
      broker!.publish(
        {
          cmd: 'publish',
          topic: m.topic,
          payload: Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength),
          qos: m.qos,
          retain: m.retain,
          dup: false,
        },
        (err) => post(err ? { t: 'published', id: m.id, error: err.message } : { t: 'published', id: m.id }),
      );
      break;
    case 'listen':
      listen().catch((err: unknown) => {
        const code = codeOf(err);
        post(code === undefined ? { t: 'listen-failed', message: messageOf(err) } : { t: 'listen-failed', message: messageOf(err), code });
      });
      break;
    case 'close':
      close().catch((err: unknown) => {
        log.error({ err }, 'broker thread: close failed');
        post({ t: 'closed' });
      });
      break;
  }
});

start().then(
  () => post({ t: 'ready' }),
  (err: unknown) => {
    const code = codeOf(err);
    post(code === undefined ? { t: 'failed', message: messageOf(err) } : { t: 'failed', message: messageOf(err), code });
  },
);

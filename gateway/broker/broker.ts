import { Aedes, type AedesOptions, type Client, type PublishPacket } from 'aedes';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

/**
 * Called for every PUBLISH a client sends, before aedes acknowledges or routes it. aedes sends PUBACK only after
 * `done` is called, so a gate may defer it (durable acknowledgement). Passing an error to `done` makes aedes drop
 * the connection (MQTT 3.1.1 has no negative PUBACK), so a gate reports bad payloads through counters instead.
 */
export type PublishGate = (client: Client, packet: PublishPacket, done: (err?: Error | null) => void) => void;

export interface BrokerDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly gate: PublishGate;
  /** Connect-time hooks (authentication, ACL) from the devices module; permissive when absent. */
  readonly authenticate?: AedesOptions['authenticate'];
  readonly authorizeSubscribe?: AedesOptions['authorizeSubscribe'];
  readonly connectTimeoutMs: number;
}

export async function createBroker(deps: BrokerDeps): Promise<Aedes> {
  const { log, metrics } = deps;
  const options: AedesOptions = {
    connectTimeout: deps.connectTimeoutMs,
    // aedes calls authorizePublish with client === null for wills and its own $SYS traffic.
    authorizePublish: (client, packet, done) => {
      if (client === null) return done(null);
      deps.gate(client, packet, done);
    },
  };
  if (deps.authenticate) options.authenticate = deps.authenticate;
  if (deps.authorizeSubscribe) options.authorizeSubscribe = deps.authorizeSubscribe;
  const broker = await Aedes.createBroker(options);
  broker.on('client', () => metrics.connectedClients.inc());
  broker.on('clientDisconnect', () => metrics.connectedClients.dec());
  broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'client error'));
  broker.on('connectionError', (_client, err) => log.debug({ err: err.message }, 'connection error before CONNECT'));
  return broker;
}

export function closeBroker(broker: Aedes): Promise<void> {
  return new Promise((resolve) => broker.close(() => resolve()));
}

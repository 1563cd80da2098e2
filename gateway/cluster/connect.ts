import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { GatewayConfig } from '../config/schema.js';

/**
 * Connects to the NATS servers of `cluster.nats` (user/password, token or a creds file; TLS when configured).
 * Reconnects forever: a lost server is the normal case of a cluster, and publishes wait for the reconnect
 * (bounded by each publish's own timeout and retries in the ingest front).
 */
export async function connectNats(config: GatewayConfig['cluster'], name: string): Promise<NatsConnection> {
  const n = config.nats;
  const tls = n.tls
    ? { ...(n.tls.ca ? { caFile: n.tls.ca } : {}), ...(n.tls.cert ? { certFile: n.tls.cert } : {}), ...(n.tls.key ? { keyFile: n.tls.key } : {}) }
    : undefined;
  return connect({
    servers: [...n.servers],
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 5_000,
    // Otherwise every request (each JetStream publish) builds two Error objects up front for their stack traces:
    // measured, a fifth of a cluster node's CPU (BENCHMARKS.md, "A cluster node").
    noAsyncTraces: true,
    ...(n.user !== undefined ? { user: n.user, pass: n.password } : {}),
    ...(n.token !== undefined ? { token: n.token } : {}),
    ...(n.creds !== undefined ? { authenticator: credsAuthenticator(new Uint8Array(readFileSync(n.creds))) } : {}),
    ...(tls ? { tls } : {}),
  });
}

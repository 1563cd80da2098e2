import type { GatewayConfig } from './config/schema.js';
import type { OutboxStatus } from './outbox/outbox.js';
import { redactSecrets, redactUrl } from './redact.js';

/**
 * The `influx` and `outbox` sections of /health, the same for a single gateway (app.ts) and a cluster node
 * (cluster/gateway.ts). Userinfo passwords and credential query parameters are masked (redact.ts): /health is open
 * even with a token.
 */
export function influxAndOutboxHealth(config: GatewayConfig, o: OutboxStatus) {
  return {
    influx: {
      url: redactUrl(config.influx.url),
      database: config.influx.database,
      up: o.influxUp,
      lastError: o.lastError === undefined ? null : redactSecrets(o.lastError),
    },
    outbox: {
      points: o.points,
      bytes: o.bytes,
      batches: o.batches,
      oldestAgeSeconds: Math.round(o.oldestAgeMs / 1000),
      draining: o.points > 0 && o.draining,
      deadLetters: o.deadLetters,
    },
  };
}

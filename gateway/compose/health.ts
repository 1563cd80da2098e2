import type { HealthReport } from '../admin/server.js';
import type { BrokerFront } from '../broker/front.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Outbox, OutboxStatus } from '../outbox/outbox.js';
import { redactSecrets, redactUrl } from '../redact.js';
import type { GatewayBase } from './base.js';

/** What a composition root adds to /health: its own sections, and whether they let the status be `ok`. */
export interface RootHealth {
  readonly healthy: boolean;
  readonly sections: Record<string, unknown>;
}

/**
 * GET /health, the same for a single gateway (app.ts) and a cluster node (cluster/gateway.ts) but for the root's
 * sections (pipeline, alerts, sparkplug; cluster): `degraded` while InfluxDB is unreachable, a SQLite file was moved
 * aside in this run, or the root says so. Called on each request and every 2 s by the operator page: reads only.
 */
export function healthReport(
  base: GatewayBase,
  parts: { readonly outbox: Outbox; readonly broker: BrokerFront; readonly listening: () => boolean },
  root: () => RootHealth,
): () => HealthReport {
  const { config, now, devices, movedAside } = base;
  return () => {
    const o = parts.outbox.status();
    const own = root();
    return {
      status: o.influxUp && movedAside.length === 0 && own.healthy ? 'ok' : 'degraded',
      gatewayId: config.gatewayId,
      uptimeSeconds: Math.max(0, Math.round((now() - base.startedAt) / 1000)), // the clock may have been set back
      broker: { listening: parts.listening(), clients: parts.broker.connectedClients },
      ...influxAndOutboxHealth(config, o),
      ...own.sections,
      devices: { registered: devices.registry.size, file: config.auth.devicesFile, anonymous: config.auth.anonymous, errors: devices.fileErrors() },
      storage: {
        movedAside: movedAside.map((m) => ({ database: m.database, reason: m.reason, movedTo: m.movedTo, detail: m.detail, at: new Date(m.at).toISOString() })),
      },
    };
  };
}

/**
 * The `influx` and `outbox` sections of /health. Userinfo passwords and credential query parameters are masked
 * (redact.ts): /health is open even with a token.
 */
function influxAndOutboxHealth(config: GatewayConfig, o: OutboxStatus) {
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

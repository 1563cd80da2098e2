import type { FastifyInstance } from 'fastify';
import type { LiveView } from '../admin/live/live-view.js';
import { buildAdmin, type AdminPlugin, type AdminRejectReason, type HealthReport } from '../admin/server.js';
import { operatorPage, type OperatorPageDeps } from '../admin/web/operator-page.js';
import type { AlertService } from '../alerts/service.js';
import type { Metrics } from '../metrics.js';
import type { GatewayBase } from './base.js';

/**
 * The admin app of both composition roots (app.ts, cluster/gateway.ts): /health and /metrics behind the host check
 * (admin/server.ts), the root's plugins in the order given (a plugin's hooks reach the routes registered after it),
 * then deps.adminPlugins. app.ts imports this module dynamically (it loads while the SQLite files open, and start()
 * awaits it once MQTT listens): fastify is not on the way to the first CONNACK.
 */
export function buildAdminApp(base: GatewayBase, health: () => HealthReport, plugins: readonly AdminPlugin[]): Promise<FastifyInstance> {
  const { config } = base;
  return buildAdmin(
    {
      log: base.log,
      registry: base.metrics.registry,
      health,
      bindHost: config.http.host,
      allowedHosts: config.http.allowedHosts,
      maxBodyBytes: config.http.maxBodyBytes,
      onRejected: adminRejected(base.metrics),
    },
    [...plugins, ...(base.deps.adminPlugins ?? [])],
  );
}

/** Counts a request the admin server or one of its APIs refused (gateway_admin_rejected_total{reason}). */
export function adminRejected(metrics: Metrics): (reason: AdminRejectReason) => void {
  return (reason) => metrics.adminRejected.inc({ reason });
}

/**
 * The operator page (docs/operator-page.md) on the live view and the alert service; `page` is what it shows beyond
 * them: the health panel, the Grafana links (http.grafanaUrl) and units (http.units); pageSettings() gives all three.
 */
export function operatorPagePlugin(
  base: GatewayBase,
  parts: { readonly live: LiveView; readonly alerts: AlertService },
  page: Pick<OperatorPageDeps, 'health' | 'grafanaUrl' | 'units'>,
): AdminPlugin {
  const { config } = base;
  return operatorPage({ ...parts, gatewayId: config.gatewayId, token: config.http.token, ...page, now: base.now, log: base.log });
}

/** The operator page's health panel (/health plus the messages rejected since the start, by reason) and settings. */
export function pageSettings(base: GatewayBase, health: () => HealthReport): Pick<OperatorPageDeps, 'health' | 'grafanaUrl' | 'units'> {
  const { config, metrics } = base;
  return {
    ...(config.http.grafanaUrl ? { grafanaUrl: config.http.grafanaUrl } : {}),
    units: config.http.units,
    health: async () => ({ ...health(), rejected: await rejectedByReason(metrics) }),
  };
}

/** Messages rejected since the start, by reason (the counter's labels). */
async function rejectedByReason(m: Metrics): Promise<Record<string, number>> {
  return Object.fromEntries((await m.messagesRejected.get()).values.map((v) => [String(v.labels['reason'] ?? 'unknown'), v.value]));
}

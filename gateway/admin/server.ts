import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { RateLimitedLog, type Logger } from '../log.js';
import { registerHostCheck } from './host-check.js';

/** What /health reports; each part of the gateway contributes its own section. */
export type HealthReport = Record<string, unknown> & { status: 'ok' | 'degraded' };

/**
 * Why the admin server refused a request (gateway_admin_rejected_total{reason}): the server's own checks
 * (host, origin, login, body size and type), then the operator page APIs' bad input (docs/alerts.md).
 */
export type AdminRejectReason =
  | 'host'
  | 'origin'
  | 'login_throttled'
  | 'body_too_large'
  | 'media_type'
  | 'invalid_body'
  | 'silence_unknown_rule'
  | 'silence_bad_minutes'
  | 'silence_not_found'
  | 'version_not_found'
  | 'history_bad_rule';

export interface AdminDeps {
  readonly log: Logger;
  readonly registry: Registry;
  readonly health: () => HealthReport;
  /** http.host and http.allowedHosts: the names the server answers to (host-check.ts). */
  readonly bindHost?: string;
  readonly allowedHosts?: readonly string[];
  /** http.maxBodyBytes: larger bodies are refused with 413 before they are read. Default 256 KiB. */
  readonly maxBodyBytes?: number;
  /** Counts each refusal; plugins get it through app.decorate('rejected'). */
  readonly onRejected?: (reason: AdminRejectReason) => void;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Counts a refused request (gateway_admin_rejected_total{reason}). */
    rejected: (reason: AdminRejectReason) => void;
  }
}

/** Admin routes that later modules register (thresholds API, operator page). */
export type AdminPlugin = (app: FastifyInstance) => void | Promise<void>;

/**
 * Builds the admin HTTP app without opening a socket (fastify's build/listen split), so tests can inject
 * requests, and main() decides where it listens.
 */
export async function buildAdmin(deps: AdminDeps, plugins: readonly AdminPlugin[] = []): Promise<FastifyInstance> {
  // Request lines are not logged (level warn): /metrics is scraped every few seconds. Errors still are.
  const app = Fastify({
    loggerInstance: deps.log.child({ part: 'admin' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: deps.maxBodyBytes ?? 256 * 1024,
  });
  const rejected = deps.onRejected ?? (() => {});
  app.decorate('rejected', rejected);
  // First of all hooks: a request for a name this server does not answer to reaches nothing else.
  registerHostCheck(app, {
    bindHost: deps.bindHost ?? '127.0.0.1',
    allowedHosts: deps.allowedHosts ?? [],
    onRejected: rejected,
    log: new RateLimitedLog(deps.log.child({ part: 'admin' })),
  });
  app.get('/health', async (_req, reply) => {
    const report = deps.health();
    // 200 even when degraded (InfluxDB down): the gateway is doing its job by buffering, and a supervisor
    // that restarts on a non-200 would only make things worse. The status field tells.
    return reply.code(200).send(report);
  });
  app.get('/metrics', async (_req, reply) => {
    const text = await deps.registry.metrics();
    return reply.type(deps.registry.contentType).send(text);
  });
  for (const plugin of plugins) await plugin(app);
  return app;
}

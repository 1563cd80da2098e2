import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';

/** What /health reports; each part of the gateway contributes its own section. */
export type HealthReport = Record<string, unknown> & { status: 'ok' | 'degraded' };

export interface AdminDeps {
  readonly log: Logger;
  readonly registry: Registry;
  readonly health: () => HealthReport;
}

/** Admin routes that later modules register (thresholds API, operator page). */
export type AdminPlugin = (app: FastifyInstance) => void | Promise<void>;

/**
 * Builds the admin HTTP app without opening a socket (fastify's build/listen split), so tests can inject
 * requests, and main() decides where it listens.
 */
export async function buildAdmin(deps: AdminDeps, plugins: readonly AdminPlugin[] = []): Promise<FastifyInstance> {
  // Request lines are not logged (level warn): /metrics is scraped every few seconds. Errors still are.
  const app = Fastify({ loggerInstance: deps.log.child({ part: 'admin' }, { level: 'warn' }) as FastifyBaseLogger, bodyLimit: 1024 * 1024 });
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

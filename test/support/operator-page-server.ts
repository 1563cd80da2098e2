import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { LiveView } from '../../gateway/admin/live/live-view.js';
import { buildAdmin } from '../../gateway/admin/server.js';
import { operatorPage } from '../../gateway/admin/web/operator-page.js';
import type { AlertService } from '../../gateway/alerts/service.js';
import type { FiringAlert } from '../../gateway/alerts/types.js';
import { createLogger } from '../../gateway/log.js';

/**
 * The operator page alone over a synthetic live view (no MQTT, no InfluxDB): for the 100k-sensor benchmark and
 * for looking at the page by eye. `sensors` sensors on sensors/3 devices; `feedPerSecond` readings a second
 * spread over them (round robin), each with a window point now and then so sparklines fill.
 */
export interface PageServer {
  readonly url: string;
  readonly live: LiveView;
  readonly firing: FiringAlert[];
  close(): Promise<void>;
}

export async function startPageServer(opts: {
  sensors: number;
  feedPerSecond: number;
  port?: number;
  token?: string;
  grafanaUrl?: string;
  units?: Record<string, string>;
  rules?: readonly Record<string, unknown>[];
}): Promise<PageServer> {
  const live = new LiveView(Date.now());
  const devices = Math.ceil(opts.sensors / 3);
  const kinds = ['temperature', 'humidity', 'co2'];
  const name = (d: number) => `dev-${String(d).padStart(6, '0')}`;
  const t0 = Date.now() - 30 * 10_000;
  for (let i = 0; i < opts.sensors; i++) {
    const device = name(i % devices);
    const sensor = kinds[Math.floor(i / devices) % 3]!;
    for (let w = 0; w < 30; w++)
      live.onWindow({
        device,
        sensor,
        start: t0 + w * 10_000,
        mean: 20 + 5 * Math.sin((w + i) / 4),
        min: 0,
        max: 0,
        first: 0,
        last: 0,
        count: 10,
        revision: 0,
      });
    live.onReading({ device, sensor, ts: Date.now(), value: 20 + (i % 10) });
  }
  const firing: FiringAlert[] = [];
  const alerts = { firing: () => firing } as unknown as AlertService;
  const app: FastifyInstance = await buildAdmin({ log: createLogger('silent'), registry: new Registry(), health: () => ({ status: 'ok' }) }, [
    operatorPage({
      live,
      alerts,
      gatewayId: 'bench-gw',
      token: opts.token,
      ...(opts.grafanaUrl ? { grafanaUrl: opts.grafanaUrl } : {}),
      ...(opts.units ? { units: opts.units } : {}),
      now: () => Date.now(),
      log: createLogger('silent'),
    }),
    // The thresholds view and the sparklines' limit lines load these: `opts.rules` as running rules.
    (a) => {
      a.get('/api/alerts/silences', async () => ({ now: Date.now(), silences: [] }));
      a.get('/api/thresholds', async (req, reply) => {
        reply.header('etag', '"empty"');
        if ((req.query as Record<string, unknown>)['format'] === 'yaml') return reply.type('application/yaml').send('rules: []\n');
        return {
          rules: opts.rules ?? [],
          status: { ruleCount: opts.rules?.length ?? 0, source: 'thresholds.yaml', loadedAt: null, errors: [] },
          etag: '"empty"',
        };
      });
    },
  ]);
  await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  let next = 0;
  const perTick = Math.round(opts.feedPerSecond / 10);
  const feeder = setInterval(() => {
    const now = Date.now();
    for (let k = 0; k < perTick; k++, next = (next + 1) % opts.sensors) {
      const device = name(next % devices);
      const sensor = kinds[Math.floor(next / devices) % 3]!;
      live.onReading({ device, sensor, ts: now, value: Math.round((20 + 5 * Math.sin(now / 10_000 + next)) * 100) / 100 });
    }
  }, 100);
  return {
    url: `http://127.0.0.1:${port}`,
    live,
    firing,
    async close() {
      clearInterval(feeder);
      await app.close();
    },
  };
}

/** `npx tsx test/support/operator-page-server.ts [sensors] [port]`: serves the page to look at it. */
if (process.argv[1]?.endsWith('operator-page-server.ts')) {
  const s = await startPageServer({ sensors: Number(process.argv[2] ?? 1000), feedPerSecond: 2000, port: Number(process.argv[3] ?? 0) });
  console.log(`operator page on ${s.url}`);
}

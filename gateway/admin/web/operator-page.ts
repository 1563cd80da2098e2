import type { AlertService } from '../../alerts/service.js';
import { compileGlob } from '../../alerts/glob.js';
import type { Logger } from '../../log.js';
import type { LiveView } from '../live/live-view.js';
import { parseWindowQuery } from '../live/live-window.js';
import { SseHub } from '../live/sse-hub.js';
import type { AdminPlugin } from '../server.js';
import { loadAssets, type Asset } from './assets.js';
import { adminAuth } from './auth.js';

/**
 * The operator page on the admin server:
 *   GET /                          the page (sensors view, thresholds editor)
 *   GET /ui/<file>                 its scripts and styles
 *   GET /api/live                  every sensor seen (SensorView) and the firing alerts, as JSON
 *   GET /api/live/events           a window of it, live: Server-Sent Events (see live/sse-hub.ts); ?q,sort,dir,offset,limit
 *   GET /api/live/window           ?stream=<id>&q&sort&dir&offset&limit: a window of sensors; moves that stream's window
 *   GET /favicon.ico               204, without the token (browsers ask on every load)
 *   GET /api/thresholds/preview    ?device=<glob>&sensor=<glob>: the sensors seen that a rule's match selects
 * plus the token check for the whole admin server (auth.ts). The rules themselves are read and written
 * through /api/thresholds (thresholds-api.ts).
 */
export interface OperatorPageDeps {
  readonly live: LiveView;
  readonly alerts: AlertService;
  readonly gatewayId: string;
  /** http.token: when set, every request but /health needs it (auth.ts). */
  readonly token: string | undefined;
  readonly now: () => number;
  readonly log: Logger;
  /** The health shown on the page (as /health, plus rejected messages by reason); none: no health panel data. */
  readonly health?: () => Promise<Record<string, unknown>>;
  /** http.grafanaUrl: a link per sensor, `{device}` and `{sensor}` filled in by the page. */
  readonly grafanaUrl?: string;
  /** http.units: sensor name glob -> unit, shown next to values. */
  readonly units?: Readonly<Record<string, string>>;
  /** Live batch period; default 500 ms. */
  readonly flushMs?: number;
}

/** Matches listed per preview; the total is always given. */
const PREVIEW_LIMIT = 500;

const PAGE_HEADERS = {
  // Everything is served from here: no inline script or style, no other origin (offline machines, and XSS
  // through a device or rule name cannot run code).
  'content-security-policy': "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export function operatorPage(deps: OperatorPageDeps): AdminPlugin {
  return async (app) => {
    const assets = loadAssets();
    const asset = (name: string): Asset => {
      const a = assets.get(name);
      if (a === undefined) throw new Error(`operator page file missing: ${name}`);
      return a;
    };
    await adminAuth({ token: deps.token, loginPage: asset('login.html').body.toString('utf8') })(app);

    const hub = new SseHub({
      live: deps.live,
      firing: () => deps.alerts.firing(),
      now: deps.now,
      log: deps.log.child({ part: 'operator-page' }),
      flushMs: deps.flushMs ?? 500,
      ...(deps.health ? { health: deps.health } : {}),
    });
    hub.start();
    app.addHook('preClose', async () => hub.stop());

    const logout = deps.token === undefined ? '' : '<form class="logout" method="post" action="/logout"><button type="submit">Log out</button></form>';
    const index = asset('index.html')
      .body.toString('utf8')
      .replaceAll('%GATEWAY_ID%', escapeHtml(deps.gatewayId))
      .replace('<!--LOGOUT-->', logout)
      .replace('<!--GRAFANA-->', deps.grafanaUrl === undefined ? '' : `<meta name="grafana-url" content="${escapeHtml(deps.grafanaUrl)}">`)
      .replace('<!--UNITS-->', `<meta name="units" content="${escapeHtml(JSON.stringify(deps.units ?? {}))}">`);
    app.get('/', async (_req, reply) => reply.headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(index));

    app.get('/ui/:file', async (req, reply) => {
      const a = assets.get((req.params as { file: string }).file);
      if (a === undefined || a.type.startsWith('text/html')) return reply.code(404).send({ error: 'not found' });
      return reply.headers(PAGE_HEADERS).type(a.type).send(a.body);
    });

    app.get('/api/live', async () => ({ gatewayId: deps.gatewayId, now: deps.now(), sensors: deps.live.snapshot(), firing: deps.alerts.firing() }));

    app.get('/favicon.ico', async (_req, reply) => reply.code(204).header('cache-control', 'max-age=86400').send());

    app.get('/api/live/window', async (req) => {
      const params = req.query as Record<string, unknown>;
      const stream = typeof params['stream'] === 'string' ? params['stream'] : undefined;
      return hub.setQuery(stream, parseWindowQuery(params));
    });

    app.get('/api/live/events', (req, reply) => {
      reply.hijack();
      if (!hub.attach(req.raw, reply.raw, parseWindowQuery(req.query as Record<string, unknown>))) {
        reply.raw.writeHead(503, { 'content-type': 'application/json', 'retry-after': '10' });
        reply.raw.end(JSON.stringify({ error: 'too many live pages open' }));
      }
    });

    app.get('/api/thresholds/preview', async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const device = q['device'] ?? '*';
      const sensor = q['sensor'] ?? '*';
      if (typeof device !== 'string' || typeof sensor !== 'string' || device === '' || sensor === '' || device.length > 256 || sensor.length > 256) {
        return reply.code(400).send({ error: 'device and sensor must be globs of 1 to 256 characters' });
      }
      // Each distinct name is matched once (a device has many sensors, a sensor name recurs on many devices).
      const matchDevice = memo(compileGlob(device));
      const matchSensor = memo(compileGlob(sensor));
      const matches: { device: string; sensor: string }[] = [];
      let total = 0;
      for (const k of deps.live.keys()) {
        if (!matchDevice(k.device) || !matchSensor(k.sensor)) continue;
        total++;
        if (matches.length < PREVIEW_LIMIT) matches.push(k);
      }
      matches.sort((a, b) => (a.device === b.device ? (a.sensor < b.sensor ? -1 : 1) : a.device < b.device ? -1 : 1));
      return { device, sensor, total, matches };
    });
  };
}

function memo(match: (s: string) => boolean): (s: string) => boolean {
  const seen = new Map<string, boolean>();
  return (s) => {
    let r = seen.get(s);
    if (r === undefined) seen.set(s, (r = match(s)));
    return r;
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

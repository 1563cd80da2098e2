import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FailureThrottle } from '../../auth/throttle.js';
import type { AdminPlugin } from '../server.js';

/**
 * Access to the admin HTTP server when `http.token` is set: every request needs either
 * `Authorization: Bearer <token>` (scripts, Prometheus) or the session cookie that the login form sets
 * (the operator page: EventSource cannot send headers). Open without either: /health (supervisors and
 * load balancers probe it), the login form and the page's static assets under /ui/ (code, no data).
 *
 * Without a token every request is allowed: config validation only permits that on a loopback host.
 *
 * The cookie holds HMAC(token, "operator-session"), never the token itself: it stays valid across restarts
 * and becomes invalid when the token changes. It is HttpOnly and SameSite=Strict (no cross-site writes).
 *
 * Guessing is slowed per source address (LOGIN_THROTTLE, the MQTT auth throttle's backoff): after 5 wrong
 * tokens, the next attempt from that address is heard only 1 s later, then 2 s, 4 s, ... up to 60 s; earlier
 * attempts get 429 with Retry-After and are counted (gateway_admin_rejected_total{reason="login_throttled"}).
 * A right token clears the address. Bearer requests are not throttled: a wrong one gets 401 and nothing else.
 */
export const SESSION_COOKIE = 'gw_session';

export interface AdminAuthOptions {
  readonly token: string | undefined;
  /** The login form (HTML) with an `<!--ERROR-->` marker. */
  readonly loginPage: string;
  /** Wall clock for the login throttle (ms); tests pass their own. */
  readonly now?: () => number;
  readonly throttle?: FailureThrottle;
}

/** Login backoff: 5 wrong tokens free, then 1 s after the next, doubling to 60 s; forgotten 10 minutes after the last one. */
export const LOGIN_THROTTLE = { freeFailures: 5, baseDelayMs: 1000, maxDelayMs: 60_000, forgetAfterMs: 10 * 60_000, maxEntries: 10_000 } as const;

// /favicon.ico: browsers ask for it on every load, before any login; it is an empty answer (operator-page.ts).
const OPEN_PATHS = new Set(['/health', '/login', '/favicon.ico']);

export function adminAuth(opts: AdminAuthOptions): AdminPlugin {
  return (app) => {
    const token = opts.token;
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    if (token === undefined) {
      app.get('/login', async (_req, reply) => reply.redirect('/', 303));
      return;
    }
    const session = createHmac('sha256', token).update('operator-session').digest('base64url');
    const tokenDigest = digest(token);

    app.addHook('onRequest', async (req, reply) => {
      const path = req.url.split('?', 1)[0]!;
      if (OPEN_PATHS.has(path) || path.startsWith('/ui/')) return;
      if (authorized(req, tokenDigest, session)) return;
      return refuse(req, reply, path);
    });

    const loginPage = (error: string) => opts.loginPage.replace('<!--ERROR-->', error === '' ? '' : `<p class="login-error" role="alert">${error}</p>`);
    app.get('/login', async (req, reply) => {
      const failed = (req.query as Record<string, unknown>)['failed'] !== undefined;
      const html = loginPage(failed ? 'That token is not right.' : '');
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
    });

    const throttle = opts.throttle ?? new FailureThrottle(LOGIN_THROTTLE);
    const now = opts.now ?? Date.now;
    app.post('/login', async (req, reply) => {
      const t = now();
      const wait = throttle.retryAfter(req.ip, t);
      if (wait > 0) {
        // Refused before the token is even compared: a guess made now tells nothing.
        app.rejected('login_throttled');
        const seconds = Math.ceil(wait / 1000);
        return reply
          .code(429)
          .header('retry-after', String(seconds))
          .header('cache-control', 'no-store')
          .type('text/html; charset=utf-8')
          .send(loginPage(`Too many wrong tokens from your address: try again in ${seconds} s.`));
      }
      const given = (req.body as Record<string, unknown> | undefined)?.['token'];
      if (typeof given !== 'string' || !timingSafeEqual(digest(given), tokenDigest)) {
        throttle.fail(req.ip, t);
        return reply.redirect('/login?failed', 303);
      }
      throttle.succeed(req.ip);
      reply.header('set-cookie', `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict`);
      return reply.redirect('/', 303);
    });

    app.post('/logout', async (_req, reply) => {
      reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
      return reply.redirect('/login', 303);
    });
  };
}

function authorized(req: FastifyRequest, tokenDigest: Buffer, session: string): boolean {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(header);
    return m !== null && timingSafeEqual(digest(m[1]!.trim()), tokenDigest);
  }
  const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
  return cookie !== undefined && cookie.length === session.length && timingSafeEqual(Buffer.from(cookie), Buffer.from(session));
}

function refuse(req: FastifyRequest, reply: FastifyReply, path: string): FastifyReply {
  // A person opening the page is sent to the login form; API clients get a 401 they can act on.
  if (req.method === 'GET' && path === '/') return reply.redirect('/login', 303);
  return reply
    .code(401)
    .header('www-authenticate', 'Bearer realm="gateway admin"')
    .send({ error: 'unauthorized', message: 'this gateway requires its admin token: Authorization: Bearer <http.token>, or log in at /login' });
}

/** Fixed-length digests, so comparing them takes the same time whatever the length of the guess. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

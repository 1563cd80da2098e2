import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitedLog } from '../log.js';

/**
 * DNS rebinding and cross-site writes. A page on `evil.example` whose name is re-pointed at 127.0.0.1 is, to the
 * browser, same-origin with itself: it could read /api/live and PUT rules to a gateway without a token. Its
 * requests carry `Host: evil.example`, so the admin server answers only to names it knows:
 *   - loopback names: `localhost` (and `*.localhost`, RFC 6761 section 6.3), any IP literal (a rebinding attack
 *     needs a name; an IP literal in Host means the client connected to that address itself), the bound
 *     `http.host`, and the names in `http.allowedHosts`;
 *   - any other Host: 421 Misdirected Request (RFC 9110 section 15.5.20), counted.
 * Requests that change state (every method but GET, HEAD, OPTIONS) with an `Origin` header must come from the
 * server's own origin, a loopback name or an allowed name; no Origin (curl, scripts) is fine. Browsers send
 * Origin on every cross-origin request and on same-origin non-GET requests (Fetch standard, "origin" header).
 * A request without Host (HTTP/1.0) cannot come from a browser and is allowed.
 */
export interface HostCheckOptions {
  /** http.host: the address or name the server is bound to. */
  readonly bindHost: string;
  /** http.allowedHosts. */
  readonly allowedHosts: readonly string[];
  readonly onRejected: (reason: 'host' | 'origin') => void;
  /** At most a few lines per reason every 10 s: a page retrying in a loop must not flood the log. */
  readonly log: RateLimitedLog;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `Host` header value -> lower-case host name without port or IPv6 brackets; undefined if malformed. */
export function hostName(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  const v6 = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h);
  if (v6) return v6[1];
  const m = /^([a-z0-9._-]+?)\.?(?::\d{1,5})?$/.exec(h);
  return m ? m[1] : undefined;
}

export function hostChecker(opts: Pick<HostCheckOptions, 'bindHost' | 'allowedHosts'>): (name: string) => boolean {
  const names = new Set(['localhost', ...opts.allowedHosts.map((n) => n.toLowerCase().replace(/\.$/, ''))]);
  const bound = hostName(opts.bindHost.includes(':') && !opts.bindHost.startsWith('[') ? `[${opts.bindHost}]` : opts.bindHost);
  if (bound !== undefined) names.add(bound);
  return (name) => names.has(name) || name.endsWith('.localhost') || isIP(name) !== 0;
}

export function registerHostCheck(app: FastifyInstance, opts: HostCheckOptions): void {
  const allowed = hostChecker(opts);
  const refuse = (reply: FastifyReply, reason: 'host' | 'origin', status: number, message: string) => {
    opts.onRejected(reason);
    const req = reply.request;
    opts.log.warn(
      `admin-${reason}`,
      { reason, host: req.headers.host, origin: req.headers.origin, method: req.method, url: req.url, from: req.ip },
      `admin request refused: ${reason} not allowed`,
    );
    return reply
      .code(status)
      .header('connection', 'close')
      .send({ error: reason === 'host' ? 'host not allowed' : 'origin not allowed', message });
  };
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const host = req.headers.host;
    const name = host === undefined ? undefined : hostName(host);
    if (host !== undefined && (name === undefined || !allowed(name))) {
      return refuse(
        reply,
        'host',
        421,
        `this gateway does not answer to ${JSON.stringify(host)}: use localhost or its address, or add the name to http.allowedHosts`,
      );
    }
    const origin = req.headers.origin;
    if (origin === undefined || SAFE_METHODS.has(req.method)) return;
    if (!originAllowed(origin, host, allowed)) {
      return refuse(
        reply,
        'origin',
        403,
        `a write from origin ${JSON.stringify(origin)} is refused: only this server's own pages, localhost and http.allowedHosts may change state`,
      );
    }
  });
}

function isLoopbackIp(ip: string): boolean {
  return ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip) || /^::ffff:127\./.test(ip);
}

function originAllowed(origin: string, host: string | undefined, allowed: (name: string) => boolean): boolean {
  let u: URL;
  try {
    u = new URL(origin); // `null` (sandboxed frames, file:) does not parse: refused
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
  if (host !== undefined && u.host === host.trim().toLowerCase()) return true;
  const name = hostName(u.host);
  if (name === undefined) return false;
  // An IP literal is fine in Host (see above), but as the origin of a write only when it is loopback: a page served
  // from any other address is another site.
  return isIP(name) === 0 ? allowed(name) : isLoopbackIp(name);
}

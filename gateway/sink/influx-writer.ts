import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { InfluxDB } from 'influx';
import { ConstantBackoff } from 'influx/lib/src/backoff/constant.js';
import { RequestError, ServiceNotAvailableError } from 'influx/lib/src/pool.js';
import { PermanentWriteError, RetryableWriteError, parseRetryAfter } from './errors.js';
import { splitLines, type FieldType } from './line-protocol.js';
import { parsePartialWrite, refusedByParse, refusedByTypes } from './partial-write.js';

export interface InfluxWriterOptions {
  readonly url: string;
  readonly database: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly timeoutMs: number;
}

/**
 * A request body of newline-separated line protocol: a string, UTF-8 bytes, or UTF-8 chunks sent one after the
 * other (the outbox sends byte ranges of the bodies it read from disk as they are, separators included).
 */
export type WriteBody = string | Buffer | readonly Buffer[];

/** The body as one string (the rare partial-write path and tests). */
export const bodyText = (body: WriteBody): string => (typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString() : Buffer.concat(body).toString());

/** What the outbox needs from a sink; the InfluxDB writer is today's only implementation. */
export interface BatchWriter {
  /** Writes line protocol (ms precision). Throws RetryableWriteError or PermanentWriteError. */
  write(body: WriteBody): Promise<void>;
  /** Cheap reachability check, never throws. */
  ping(timeoutMs?: number): Promise<boolean>;
  /** Releases sockets; called by Outbox.close(). */
  close?(): void;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const TIMEOUT = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);

/**
 * Writes batches of pre-formatted line protocol to InfluxDB 1.x: a plain HTTP POST to /write per batch, on a
 * keep-alive agent; ping, CREATE DATABASE and SHOW FIELD KEYS go through node-influx.
 *
 * Why not `InfluxDB.writePoints`: the outbox stores batches as line protocol text, and writePoints would re-parse
 * and re-serialise every point (measured several times slower, see test/bench/outbox-micro.ts). Why not
 * node-influx's `Pool.discard` either (used until the drain needed every byte): it copies the whole body once
 * only to learn its length (`Buffer.from(body).length`), ~4 MB a request of a backlog, and takes a single body
 * where the outbox has byte ranges of several stored batches. Errors are raised as the pool raises them
 * (RequestError for 3xx/4xx, ServiceNotAvailableError for 5xx and timeouts), so `classify` reads both alike.
 *
 * Workaround for node-influx#642, for the requests that still go through node-influx (https://github.com/node-influx/node-influx/issues/642): after a network
 * error the pool takes the host out for a backoff delay and then fails every request with "No host
 * available", even after InfluxDB is back. A constant backoff of 0 ms makes `Pool#_disableHost` keep the
 * host (it disables only when the delay is > 0), and `maxRetries: 0` leaves retrying to the outbox, which
 * owns backoff, ordering and counting.
 */
export class InfluxWriter implements BatchWriter {
  private readonly client: InfluxDB;
  private readonly request: (o: RequestOptions) => ClientRequest;
  private readonly target: RequestOptions;
  private readonly auth: string | undefined;
  private readonly agent: HttpAgent;
  private databaseReady = false;

  constructor(private readonly opts: InfluxWriterOptions) {
    const u = new URL(opts.url);
    const https = u.protocol === 'https:';
    // Keep-alive: a backlog drains as many requests in a row; a new TCP connection each time costs.
    this.agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 4 }) : new HttpAgent({ keepAlive: true, maxSockets: 4 });
    const poolOptions = { backoff: new ConstantBackoff({ delay: 0, jitter: 0 }), maxRetries: 0, requestTimeout: opts.timeoutMs };
    const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
    const hostOptions = { agent: this.agent };
    this.auth = opts.username !== undefined ? `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}` : undefined;
    this.request = https ? httpsRequest : httpRequest;
    this.target = {
      method: 'POST',
      hostname: u.hostname,
      port: Number(u.port || (https ? 443 : 80)),
      path: `${path}/write?${new URLSearchParams({ db: opts.database, precision: 'ms' }).toString()}`,
      agent: this.agent,
      // Like the pool's: the socket may stay idle this long (InfluxDB answers a large write only when stored).
      timeout: opts.timeoutMs,
    };
    this.client = new InfluxDB({
      host: u.hostname,
      port: Number(u.port || (https ? 443 : 80)),
      protocol: https ? 'https' : 'http',
      path,
      database: opts.database,
      ...(opts.username !== undefined ? { username: opts.username, password: opts.password ?? '' } : {}),
      pool: poolOptions,
      options: hostOptions,
    });
  }

  /** CREATE DATABASE is idempotent in 1.x; called before the first write and when a write says it is missing. */
  async ensureDatabase(): Promise<void> {
    try {
      await this.client.createDatabase(this.opts.database);
      this.databaseReady = true;
    } catch (err) {
      throw classify(err);
    }
  }

  async ping(timeoutMs = 1000): Promise<boolean> {
    try {
      const hosts = await this.client.ping(timeoutMs);
      return hosts.some((h) => h.online);
    } catch {
      return false;
    }
  }

  async write(body: WriteBody): Promise<void> {
    if (typeof body === 'string' || Buffer.isBuffer(body) ? body.length === 0 : body.every((c) => c.length === 0)) return;
    if (!this.databaseReady) await this.ensureDatabase();
    try {
      await this.post(body);
    } catch (err) {
      const e = classify(err);
      if (e instanceof RetryableWriteError && e.reason === 'database') {
        // Someone dropped the database (or InfluxDB came back empty): create it and try once more now.
        await this.ensureDatabase();
        try {
          await this.post(body);
          return;
        } catch (again) {
          throw await this.refine(classify(again), body);
        }
      }
      throw await this.refine(e, body);
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private post(body: WriteBody): Promise<void> {
    const chunks = typeof body === 'string' ? [Buffer.from(body)] : Buffer.isBuffer(body) ? [body] : body;
    let length = 0;
    for (const c of chunks) length += c.length;
    const headers: Record<string, string | number> = { 'content-length': length };
    if (this.auth !== undefined) headers.authorization = this.auth;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: unknown) => {
        if (settled) return;
        settled = true;
        if (err === undefined) resolve();
        else reject(err);
      };
      const req = this.request({ ...this.target, headers });
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        res.on('error', settle);
        if (status >= 200 && status < 300) {
          res.resume();
          res.on('end', () => settle());
          return;
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (text += s));
        res.on('end', () => settle(status >= 500 ? new ServiceNotAvailableError(res.statusMessage ?? String(status)) : new RequestError(req, res, text)));
      });
      req.on('error', settle);
      req.on('timeout', () => {
        settle(new ServiceNotAvailableError('Request timed out'));
        req.destroy();
      });
      // One writev for the chunks: each is a byte range of a stored batch, sent without a joined copy.
      req.cork();
      for (const c of chunks) req.write(c);
      req.end();
    });
  }

  /** Turns a 400 "partial write" into a PermanentWriteError naming the refused lines when they can be known. */
  private async refine(err: RetryableWriteError | PermanentWriteError, body: WriteBody): Promise<Error> {
    if (!(err instanceof PermanentWriteError) || err.status !== 400) return err;
    const pw = parsePartialWrite(err.message);
    if (!pw) return err;
    const lines = splitLines(bodyText(body));
    let refused = refusedByParse(lines, pw);
    if (!refused) {
      try {
        refused = await refusedByTypes(lines, pw, (ms) => this.fieldTypes(ms));
      } catch {
        refused = undefined; // no schema answer: the whole batch counts as refused
      }
    }
    return refused ? new PermanentWriteError(err.message, err.status, refused) : err;
  }

  private async fieldTypes(measurements: readonly string[]): Promise<Map<string, Map<string, Set<FieldType>>>> {
    const out = new Map<string, Map<string, Set<FieldType>>>();
    for (const m of measurements) {
      const rows = await this.client.query<{ fieldKey: string; fieldType: FieldType }>(
        `SHOW FIELD KEYS FROM "${m.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`,
      );
      const fields = new Map<string, Set<FieldType>>();
      for (const r of rows) {
        let set = fields.get(r.fieldKey);
        if (!set) fields.set(r.fieldKey, (set = new Set()));
        set.add(r.fieldType);
      }
      out.set(m, fields);
    }
    return out;
  }
}

/** Maps what node-influx's pool throws to the sink's two error classes. */
export function classify(err: unknown): RetryableWriteError | PermanentWriteError {
  if (err instanceof RetryableWriteError || err instanceof PermanentWriteError) return err;
  if (err instanceof RequestError) {
    const status = err.res.statusCode ?? 0;
    const headerError = err.res.headers['x-influxdb-error'];
    const text = (Array.isArray(headerError) ? headerError[0] : headerError) ?? bodyError(err.message);
    if (status === 429) {
      return new RetryableWriteError(`InfluxDB throttled the write: ${text}`, 'throttled', parseRetryAfter(err.res.headers['retry-after']));
    }
    if (status === 401 || status === 403) {
      // Wrong credentials are an operator's fix, not a property of the data: keep the data and retry.
      return new RetryableWriteError(`InfluxDB refused the credentials (${status}): ${text}`, 'auth');
    }
    if (status === 404 && /database not found/.test(text)) return new RetryableWriteError(text, 'database');
    if (status >= 500) return new RetryableWriteError(`InfluxDB answered ${status}: ${text}`, 'server');
    return new PermanentWriteError(text, status);
  }
  if (err instanceof ServiceNotAvailableError) {
    // The pool raises this for any 5xx (statusMessage only) and for its own request timeout.
    const timeout = /timed out/i.test(err.message);
    return new RetryableWriteError(`InfluxDB unavailable: ${err.message}`, timeout ? 'timeout' : 'server');
  }
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (code && UNREACHABLE.has(code)) return new RetryableWriteError(`InfluxDB unreachable: ${e.message}`, 'unreachable', undefined, code);
  if (code && TIMEOUT.has(code)) return new RetryableWriteError(`InfluxDB timed out: ${e.message}`, 'timeout', undefined, code);
  // Anything else from the network stack (ECONNRESET, EPIPE, socket hang up, ...) is worth another try.
  return new RetryableWriteError(`InfluxDB request failed: ${e?.message ?? String(err)}`, 'network', undefined, code);
}

function bodyError(message: string): string {
  const m = /error occurred: ([\s\S]*)$/.exec(message);
  if (!m) return message;
  try {
    const j = JSON.parse(m[1]!) as { error?: string };
    return j.error ?? m[1]!;
  } catch {
    return m[1]!;
  }
}

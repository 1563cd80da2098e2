import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { InfluxDB } from 'influx';
import { ConstantBackoff } from 'influx/lib/src/backoff/constant.js';
import { Pool, RequestError, ServiceNotAvailableError } from 'influx/lib/src/pool.js';
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

/** What the outbox needs from a sink; the InfluxDB writer is today's only implementation. */
export interface BatchWriter {
  /**
   * Writes newline-separated line protocol (ms precision), as a string or as UTF-8 bytes (the outbox sends
   * what it read from disk as it is). Throws RetryableWriteError or PermanentWriteError.
   */
  write(body: string | Buffer): Promise<void>;
  /** Cheap reachability check, never throws. */
  ping(timeoutMs?: number): Promise<boolean>;
  /** Releases sockets; called by Outbox.close(). */
  close?(): void;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const TIMEOUT = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);

/**
 * Writes batches of pre-formatted line protocol to InfluxDB 1.x through node-influx's request pool.
 *
 * Why the raw pool rather than `InfluxDB.writePoints`: the outbox stores batches as line protocol text, and
 * writePoints would re-parse and re-serialise every point (measured several times slower, see
 * test/bench/outbox-micro.ts); `Pool.discard` posts our body as it is.
 *
 * Workaround for node-influx#642 (https://github.com/node-influx/node-influx/issues/642): after a network
 * error the pool takes the host out for a backoff delay and then fails every request with "No host
 * available", even after InfluxDB is back. A constant backoff of 0 ms makes `Pool#_disableHost` keep the
 * host (it disables only when the delay is > 0), and `maxRetries: 0` leaves retrying to the outbox, which
 * owns backoff, ordering and counting.
 */
export class InfluxWriter implements BatchWriter {
  private readonly pool: Pool;
  private readonly client: InfluxDB;
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
    this.pool = new Pool(poolOptions);
    this.pool.addHost(`${u.protocol}//${u.host}${path}`, hostOptions);
    this.auth = opts.username !== undefined ? `${opts.username}:${opts.password ?? ''}` : undefined;
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

  async write(body: string | Buffer): Promise<void> {
    if (body.length === 0) return;
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

  private post(body: string | Buffer): Promise<void> {
    return this.pool.discard({
      method: 'POST',
      path: '/write',
      query: { db: this.opts.database, precision: 'ms' },
      // Typed as a string, but the pool only takes Buffer.from(body).length and req.write(body), which take
      // a Buffer as well: a Buffer skips encoding ~8 MB twice per request (content-length, then the socket).
      body: body as string,
      ...(this.auth !== undefined ? { auth: this.auth } : {}),
    });
  }

  /** Turns a 400 "partial write" into a PermanentWriteError naming the refused lines when they can be known. */
  private async refine(err: RetryableWriteError | PermanentWriteError, body: string | Buffer): Promise<Error> {
    if (!(err instanceof PermanentWriteError) || err.status !== 400) return err;
    const pw = parsePartialWrite(err.message);
    if (!pw) return err;
    const lines = splitLines(body.toString());
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

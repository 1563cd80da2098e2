import { RetryableWriteError, parseRetryAfter } from './errors.js';
import type { HttpAnswer } from './http.js';
import { readV2Invalid, readV3Partial } from './refusal-bodies.js';

/** influx.api: which of InfluxDB's write APIs the gateway speaks. The line protocol is the same in all three. */
export type InfluxApi = 'v1' | 'v2' | 'v3';

export interface DialectOptions {
  readonly api: InfluxApi;
  /** v1 and v3: the database; v2: the bucket's default. */
  readonly database: string;
  /** v1 only: the retention policy (`rp`); absent: the database's default. */
  readonly retentionPolicy?: string | undefined;
  readonly org?: string | undefined;
  readonly bucket?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly token?: string | undefined;
}

/** How InfluxDB refused (some of) a write, read from a 4xx answer; see the status table in docs/influxdb.md. */
export interface Refusal {
  readonly kind: 'refused';
  readonly status: number;
  /** InfluxDB's own words, for the dead letter. */
  readonly message: string;
  /** Some lines of the request were stored (a partial write): they must not be sent again. */
  readonly partial: boolean;
  /**
   * 0-based indexes of refused lines when the answer names them. With `partial: false` they are the cause of
   * refusing the whole request (nothing stored): the other lines can be sent again.
   */
  readonly named?: readonly number[];
  /** The answer may list only the first refused lines (v3: up to 100): lines after the last named one are unknown. */
  readonly cut?: boolean;
}

export type Answer = Refusal | { readonly kind: 'retry'; readonly error: RetryableWriteError } | { readonly kind: 'tooLarge'; readonly message: string };

export interface Dialect {
  readonly api: InfluxApi;
  /** `database "iot"`, `bucket "iot" (org "acme")`: what the gateway writes to, for messages. */
  readonly target: string;
  readonly writePath: string;
  readonly writeQuery: Readonly<Record<string, string>>;
  /** The Authorization header value, or undefined when InfluxDB runs without authentication. */
  readonly authorization: string | undefined;
  /** v1 creates its database (CREATE DATABASE is idempotent); creating buckets or databases is not our job otherwise. */
  readonly createsDatabase: boolean;
  /** v1 and v2 (its v1-compatible /query with a DBRP mapping): where SHOW FIELD KEYS can be asked. */
  readonly queryDatabase: string | undefined;
  /** Reads a non-2xx answer to a write. `lines` splits the request body (called only when needed). */
  read(answer: HttpAnswer, lines: () => readonly string[]): Answer;
}

const header = (a: HttpAnswer, name: string): string | undefined => {
  const v = a.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** The error text of an answer: 1.x's X-Influxdb-Error header, else the JSON body's `error`/`message`, else the body. */
export function errorText(a: HttpAnswer): string {
  const h = header(a, 'x-influxdb-error');
  if (h !== undefined && h !== '') return h;
  try {
    const j = JSON.parse(a.text) as { error?: unknown; message?: unknown };
    if (typeof j.error === 'string') return j.error;
    if (typeof j.message === 'string') return j.message;
  } catch {
    // not JSON
  }
  return a.text.trim().slice(0, 2000) || `HTTP ${a.status}`;
}

/**
 * The answers every dialect reads alike: auth (kept: wrong credentials are an operator's fix, not a property of
 * the data), 404 (kept: a missing database or bucket, or a URL that is not InfluxDB's), 413, 429/503 with
 * Retry-After (RFC 9110 §10.2.3, seconds or an HTTP date), other 5xx. Undefined: the dialect decides.
 */
function common(a: HttpAnswer, target: string): Answer | undefined {
  const { status } = a;
  const text = errorText(a);
  if (status === 401 || status === 403) return retry(`InfluxDB refused the credentials (${status}) for ${target}: ${text}`, 'auth');
  if (status === 404) return retry(`InfluxDB answered 404 for ${target}: ${text}`, 'database');
  if (status === 413) return { kind: 'tooLarge', message: text };
  if (status === 429) return retry(`InfluxDB throttled the write (429): ${text}`, 'throttled', parseRetryAfter(a.headers['retry-after']));
  if (status === 503) return retry(`InfluxDB unavailable (503): ${text}`, 'server', parseRetryAfter(a.headers['retry-after']));
  if (status >= 500 || status < 400) return retry(`InfluxDB answered ${status}: ${text}`, 'server');
  return undefined;
}

const retry = (message: string, reason: RetryableWriteError['reason'], retryAfterMs?: number): Answer => ({
  kind: 'retry',
  error: new RetryableWriteError(message, reason, retryAfterMs),
});

const whole = (a: HttpAnswer): Refusal => ({ kind: 'refused', status: a.status, message: errorText(a), partial: false });

/**
 * InfluxDB 3's partial-write body (readV3Partial). Read in every dialect: 3.x answers its v1- and v2-compatible write
 * APIs the same way, and so may Cloud Serverless's v2 API ("Partial writes will now always return a 400 status
 * code", https://www.influxdata.com/blog/handling-partial-writes-influxdb-3.0/).
 */
function v3Partial(a: HttpAnswer, lines: () => readonly string[]): Refusal | undefined {
  if (!a.text.includes('"data"')) return undefined;
  const p = readV3Partial(a.text, lines().length);
  return p && { kind: 'refused', status: a.status, message: p.message, partial: true, named: p.lines, cut: p.cut };
}

const basic = (o: DialectOptions) => (o.username !== undefined ? `Basic ${Buffer.from(`${o.username}:${o.password ?? ''}`).toString('base64')}` : undefined);

export function createDialect(o: DialectOptions): Dialect {
  switch (o.api) {
    case 'v1':
      return v1(o);
    case 'v2':
      return v2(o);
    case 'v3':
      return v3(o);
  }
}

/**
 * InfluxDB 1.x: POST /write?db=&rp=&precision=ms (https://docs.influxdata.com/influxdb/v1/tools/api/#write-http-endpoint).
 * 400 "partial write: ..." stored the other lines; the writer works out which were refused (partial-write.ts).
 */
function v1(o: DialectOptions): Dialect {
  const target = `database ${JSON.stringify(o.database)}`;
  return {
    api: 'v1',
    target,
    writePath: '/write',
    writeQuery: { db: o.database, ...(o.retentionPolicy ? { rp: o.retentionPolicy } : {}), precision: 'ms' },
    // 1.8+ also takes "Token user:password" (and v3's v1-compatible API a token): a token wins over user/password.
    authorization: o.token !== undefined ? `Token ${o.token}` : basic(o),
    createsDatabase: true,
    queryDatabase: o.database,
    read(a, lines) {
      const c = common(a, target);
      if (c) return c;
      const text = errorText(a);
      if (a.status === 400 && text.startsWith('partial write:')) return { kind: 'refused', status: 400, message: text, partial: true };
      return (a.status === 400 && v3Partial(a, lines)) || whole(a);
    },
  };
}

/**
 * InfluxDB 2.x (and 1.8+, 3.x, Cloud): POST /api/v2/write?org=&bucket=&precision=ms, `Authorization: Token`
 * (https://docs.influxdata.com/influxdb/v2/write-data/troubleshoot/#review-http-status-codes):
 *   400: "The response body contains the first malformed line in the data. All request data was rejected and not
 *        written." -> that line is refused, the others are sent again (nothing of them was stored).
 *   422: "some or all the points were rejected due to semantic errors--for example, schema conflicts or retention
 *        policy violations"; "Data that has not been rejected is ingested" -> a partial write, read like 1.x's.
 *   503: "The Retry-After header describes when to try the write again."
 */
function v2(o: DialectOptions): Dialect {
  const bucket = o.bucket ?? o.database;
  const target = `bucket ${JSON.stringify(bucket)}${o.org ? ` (org ${JSON.stringify(o.org)})` : ''}`;
  return {
    api: 'v2',
    target,
    writePath: '/api/v2/write',
    writeQuery: { ...(o.org ? { org: o.org } : {}), bucket, precision: 'ms' },
    // 1.8's v2 write API takes "Token user:password".
    authorization: o.token !== undefined ? `Token ${o.token}` : o.username !== undefined ? `Token ${o.username}:${o.password ?? ''}` : undefined,
    createsDatabase: false,
    queryDatabase: bucket,
    read(a, lines) {
      const c = common(a, target);
      if (c) return c;
      const text = errorText(a);
      if (a.status === 422) return { kind: 'refused', status: 422, message: text, partial: true };
      if (a.status === 400) {
        const v3 = v3Partial(a, lines);
        if (v3) return v3;
        const named = readV2Invalid(text, lines());
        return named === undefined ? whole(a) : { kind: 'refused', status: 400, message: text, partial: false, named };
      }
      return whole(a);
    },
  };
}

/**
 * InfluxDB 3 (Core, Enterprise): POST /api/v3/write_lp?db=&precision=millisecond&accept_partial=true&no_sync=false,
 * `Authorization: Bearer` (https://docs.influxdata.com/influxdb3/core/write-data/http-api/v3-write-lp/).
 * no_sync=false: acknowledged only once the WAL has the data, the outbox's own promise. accept_partial=true: a
 * 400 "partial write of line protocol occurred" lists the refused lines (line_number, 1-based) and stored the
 * rest; the list holds "up to 100 points" (https://docs.influxdata.com/influxdb3/core/write-data/troubleshoot/).
 */
function v3(o: DialectOptions): Dialect {
  const target = `database ${JSON.stringify(o.database)}`;
  return {
    api: 'v3',
    target,
    writePath: '/api/v3/write_lp',
    writeQuery: { db: o.database, precision: 'millisecond', accept_partial: 'true', no_sync: 'false' },
    authorization: o.token !== undefined ? `Bearer ${o.token}` : undefined,
    createsDatabase: false,
    queryDatabase: undefined,
    read(a, lines) {
      const c = common(a, target);
      if (c) return c;
      return (a.status === 400 && v3Partial(a, lines)) || whole(a);
    },
  };
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseLine, splitLines, type FieldType } from '../../gateway/sink/line-protocol.js';

/**
 * A small HTTP server that answers writes as InfluxDB 2.x or 3.x documents it (no server of either can be installed
 * here: Debian ships InfluxDB 1.6 only). Each behaviour cites its source:
 *
 * v2 (https://docs.influxdata.com/influxdb/v2/write-data/troubleshoot/#review-http-status-codes):
 *   POST /api/v2/write?org=&bucket=&precision=, `Authorization: Token <token>`.
 *   204 all written; 400 `{"code":"invalid","message":"unable to parse '<first malformed line>': ..."}` and nothing
 *   written; 401; 404 bucket not found; 413; 422 `{"code":"unprocessable entity","message":"failure writing points
 *   to database: partial write: ... dropped=N for database: <id> for retention policy: autogen"}` with the other
 *   lines written; 503 with Retry-After.
 *   GET /query (the v1-compatible API over a DBRP mapping) answers SHOW FIELD KEYS.
 * v3 (https://docs.influxdata.com/influxdb3/core/write-data/http-api/v3-write-lp/,
 *     https://docs.influxdata.com/influxdb3/core/write-data/troubleshoot/):
 *   POST /api/v3/write_lp?db=&precision=&accept_partial=&no_sync=, `Authorization: Bearer <token>`.
 *   204; 400 `{"error":"partial write of line protocol occurred","data":[{"original_line","line_number","error_message"}]}`
 *   listing up to 100 refused lines (1-based) with the others written; 401; 404; 503 with Retry-After.
 *   Schema: a field type conflict, a tag and a field of the same name, and a new tag on an existing table are refused.
 *   The first line stored for a table fixes its tags, even within one request, as InfluxDB 3's write validator does
 *   (influxdb3_write/src/write_buffer/validator.rs, `validate_and_qualify_v1_line`: "Detected a new tag '<key>' in
 *   write. The tag set is immutable on first write to the table."); the tag/field clash text is this fake's own.
 *
 * `script` answers the next write requests with a canned status instead (an outage, throttling); `stop()` and
 * `start()` take the listener away and bring it back on the same port.
 */
export type FakeApi = 'v2' | 'v3';

export interface Canned {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface Received {
  readonly path: string;
  readonly query: Record<string, string>;
  readonly authorization: string | undefined;
  readonly lines: string[];
  readonly status: number;
}

export interface FakeOptions {
  readonly api: FakeApi;
  readonly token?: string;
  /** v2: existing buckets (org `org`); v3: any database is created on first write. */
  readonly buckets?: readonly string[];
  readonly org?: string;
  /** Bodies above this many bytes are answered 413. */
  readonly maxBodyBytes?: number;
}

const V3_LIST_MAX = 100;

export class FakeInflux {
  /** Every line stored, in the order stored (a line stored twice appears twice). */
  readonly stored: string[] = [];
  readonly received: Received[] = [];
  script: Canned[] = [];
  /** Field types and tag keys per measurement (table), as stored. */
  private readonly fields = new Map<string, Map<string, FieldType>>();
  private readonly tags = new Map<string, Set<string>>();
  private server: Server | undefined;
  private port = 0;

  constructor(readonly o: FakeOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }

  /** Write requests (not pings or queries). */
  get writes(): Received[] {
    return this.received.filter((r) => r.path.includes('write'));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x');
      const query = Object.fromEntries(u.searchParams);
      const body = Buffer.concat(chunks);
      const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
        this.received.push({ path: u.pathname, query, authorization: req.headers.authorization, lines: splitLines(body.toString()), status });
        const text = payload === undefined ? '' : typeof payload === 'string' ? payload : JSON.stringify(payload);
        res.writeHead(status, { ...(text ? { 'content-type': 'application/json' } : {}), ...headers }).end(text);
      };
      if (u.pathname === '/ping' && req.method === 'GET') return reply(this.o.api === 'v3' ? 200 : 204);
      const scheme = this.o.api === 'v2' ? 'Token' : 'Bearer';
      if (this.o.token !== undefined && req.headers.authorization !== `${scheme} ${this.o.token}`) {
        return reply(401, this.o.api === 'v2' ? { code: 'unauthorized', message: 'unauthorized access' } : { error: 'the request was not authenticated' });
      }
      if (u.pathname === '/query' && this.o.api === 'v2') return reply(200, this.showFieldKeys(query));
      const writePath = this.o.api === 'v2' ? '/api/v2/write' : '/api/v3/write_lp';
      if (u.pathname !== writePath || req.method !== 'POST') return reply(404, { code: 'not found', message: 'path not found' });
      const canned = this.script.shift();
      if (canned) return reply(canned.status, canned.body, canned.headers);
      if (this.o.maxBodyBytes !== undefined && body.length > this.o.maxBodyBytes) {
        return reply(
          413,
          this.o.api === 'v2' ? { code: 'request too large', message: 'unable to read data: points batch is too large' } : { error: 'Request body too large' },
        );
      }
      if (this.o.api === 'v2') {
        if (!(this.o.buckets ?? []).includes(query.bucket ?? '')) return reply(404, { code: 'not found', message: `bucket "${query.bucket}" not found` });
        return this.writeV2(splitLines(body.toString()), reply);
      }
      return this.writeV3(splitLines(body.toString()), reply);
    });
  }

  private writeV2(lines: string[], reply: (s: number, p?: unknown) => void): void {
    const bad = lines.find((l) => parseLine(l) === undefined);
    if (bad !== undefined) return reply(400, { code: 'invalid', message: `unable to parse '${bad}': invalid field format` });
    let dropped = 0;
    let first = '';
    for (const l of lines) {
      const why = this.conflict(l, false);
      if (why) {
        dropped++;
        first ||= why;
      } else this.store(l);
    }
    if (dropped === 0) return reply(204);
    reply(422, {
      code: 'unprocessable entity',
      message: `failure writing points to database: partial write: ${first} dropped=${dropped} for database: 9f282d63c7d3a5c0 for retention policy: autogen`,
    });
  }

  private writeV3(lines: string[], reply: (s: number, p?: unknown) => void): void {
    const data: { original_line: string; line_number: number; error_message: string }[] = [];
    lines.forEach((l, i) => {
      const why = parseLine(l) === undefined ? 'Could not parse entire line' : this.conflict(l, true);
      if (why) data.push({ original_line: l, line_number: i + 1, error_message: why });
      else this.store(l);
    });
    if (data.length === 0) return reply(204);
    reply(400, { error: 'partial write of line protocol occurred', data: data.slice(0, V3_LIST_MAX) });
  }

  /** Why InfluxDB would refuse this (parsable) line against what is stored, or ''. */
  private conflict(line: string, v3: boolean): string {
    const p = parseLine(line)!;
    const known = this.fields.get(p.measurement);
    const keys = tagKeys(line);
    for (const [f, t] of p.fields) {
      const had = known?.get(f);
      if (had !== undefined && had !== t) {
        return v3
          ? `invalid column type for column '${f}', expected iox::column_type::field::${had}, got iox::column_type::field::${t}`
          : `field type conflict: input field "${f}" on measurement "${p.measurement}" is type ${t}, already exists as type ${had}`;
      }
      if (v3 && (keys.includes(f) || this.tags.get(p.measurement)?.has(f))) return `column '${f}' is both a tag and a field`;
    }
    if (v3) {
      const table = this.tags.get(p.measurement);
      const added = table ? keys.filter((k) => !table.has(k)) : [];
      if (added.length > 0) return `Detected a new tag '${added[0]}' in write. The tag set is immutable on first write to the table.`;
      for (const k of keys) if (known?.has(k)) return `column '${k}' is both a tag and a field`;
    }
    return '';
  }

  private store(line: string): void {
    const p = parseLine(line)!;
    let f = this.fields.get(p.measurement);
    if (!f) this.fields.set(p.measurement, (f = new Map()));
    for (const [k, t] of p.fields) f.set(k, t);
    if (!this.tags.has(p.measurement)) this.tags.set(p.measurement, new Set(tagKeys(line)));
    this.stored.push(line);
  }

  private showFieldKeys(query: Record<string, string>): unknown {
    const m = /^SHOW FIELD KEYS FROM "((?:[^"\\]|\\.)*)"$/.exec(query.q ?? '');
    const fields = m ? this.fields.get(m[1]!.replace(/\\(.)/g, '$1')) : undefined;
    if (!m) return { results: [{ statement_id: 0, error: 'not supported by the fake' }] };
    if (!fields) return { results: [{ statement_id: 0 }] };
    return { results: [{ statement_id: 0, series: [{ name: m[1], columns: ['fieldKey', 'fieldType'], values: [...fields] }] }] };
  }
}

/** Tag keys of a line: between the measurement and the first unescaped space, split at unescaped commas. */
export function tagKeys(line: string): string[] {
  const key = /^((?:[^ \\]|\\.)*)/.exec(line)![1]!;
  const parts = key.split(/(?<!\\),/).slice(1);
  return parts.map((p) => p.split(/(?<!\\)=/)[0]!.replace(/\\(.)/g, '$1'));
}

export async function startFakeInflux(o: FakeOptions): Promise<FakeInflux> {
  return new FakeInflux(o).start();
}

import { createDialect, errorText, type Dialect, type DialectOptions, type Refusal } from './dialects.js';
import { PermanentWriteError, RetryableWriteError, networkError } from './errors.js';
import { InfluxHttp, bodyText, type HttpAnswer, type WriteBody } from './http.js';
import { splitLines, type FieldType } from './line-protocol.js';
import { parsePartialWrite, refusedByParse, refusedByTypes } from './partial-write.js';

export { bodyText, type WriteBody } from './http.js';

export interface InfluxWriterOptions extends Omit<DialectOptions, 'api'> {
  /** Default 'v1'. */
  readonly api?: DialectOptions['api'];
  readonly url: string;
  readonly timeoutMs: number;
}

/** What the outbox needs from a sink; the InfluxDB writer is today's only implementation. */
export interface BatchWriter {
  /** Writes line protocol (ms precision). Throws RetryableWriteError or PermanentWriteError. */
  write(body: WriteBody): Promise<void>;
  /** Cheap reachability check, never throws. */
  ping(timeoutMs?: number): Promise<boolean>;
  /** Releases sockets; called by Outbox.close(). */
  close?(): void;
}

/** The refused lines of one request: index -> InfluxDB's reason. */
type Refused = Map<number, { readonly message: string; readonly status: number }>;

/** A v2 400 names only the first malformed line: resend the rest at most this often, then refuse what is left. */
const MAX_RESENDS = 32;

/**
 * Writes batches of pre-formatted line protocol to InfluxDB 1.x, 2.x or 3.x (influx.api), one POST per batch on a
 * keep-alive agent (http.ts), and reads every answer into the outbox's three outcomes: resolve (accept), throw
 * RetryableWriteError (keep, back off), throw PermanentWriteError (reject: the whole request, or only
 * `refusedLines` when InfluxDB stored the others). What each status of each dialect means: dialects.ts and
 * docs/influxdb.md. Sent only once each: a line InfluxDB stored is never in a request the writer sends again.
 *
 * Why not `InfluxDB.writePoints`: the outbox stores batches as line protocol text, and writePoints would re-parse
 * and re-serialise every point (measured several times slower, see test/bench/outbox-micro.ts).
 *
 * Two refusals are resolved here by sending again, so the outbox sees one answer per request:
 * - 413 (too large): the request is split in halves, each sent on its own, down to single lines; a single line
 *   that is still too large is refused with InfluxDB's reason. A half may get a retryable error after the other was
 *   stored; the outbox then resends the whole request later, which rewrites the stored half with the same values.
 * - v2 400 (nothing stored, first malformed line named): that line is refused, the rest is sent again.
 */
export class InfluxWriter implements BatchWriter {
  private readonly http: InfluxHttp;
  readonly dialect: Dialect;
  private databaseReady = false;

  constructor(opts: InfluxWriterOptions) {
    this.dialect = createDialect({ ...opts, api: opts.api ?? 'v1' });
    this.http = new InfluxHttp(opts.url, this.dialect.authorization, opts.timeoutMs);
  }

  /**
   * v1: CREATE DATABASE (idempotent); before the first write and when a write says it is missing. No-op otherwise.
   * A 403 (not an admin) is not an error here: the write then says whether the database exists.
   */
  async ensureDatabase(): Promise<void> {
    if (!this.dialect.createsDatabase || this.dialect.queryDatabase === undefined) return;
    const q = `CREATE DATABASE "${escapeIdent(this.dialect.queryDatabase)}"`;
    const a = await this.http.request('POST', '/query', { q }, '', { contentType: 'application/x-www-form-urlencoded' }).catch((err: unknown) => {
      throw networkError(err);
    });
    // A user without the admin right may still write to an existing database: let the write's answer decide.
    if (a.status === 403) this.databaseReady = true;
    else if (a.status < 200 || a.status >= 300) {
      const r = this.dialect.read(a, () => []);
      throw r.kind === 'retry' ? r.error : new RetryableWriteError(`InfluxDB refused CREATE DATABASE (${a.status}): ${errorText(a)}`, 'database');
    }
    this.databaseReady = true;
  }

  /** GET /ping: true when an HTTP answer below 500 comes back (even a 401: the server is there). */
  async ping(timeoutMs = 1000): Promise<boolean> {
    try {
      const a = await this.http.request('GET', '/ping', {}, undefined, { timeoutMs });
      return a.status < 500;
    } catch {
      return false;
    }
  }

  async write(body: WriteBody): Promise<void> {
    if (typeof body === 'string' || Buffer.isBuffer(body) ? body.length === 0 : body.every((c) => c.length === 0)) return;
    if (this.dialect.createsDatabase && !this.databaseReady) await this.ensureDatabase();
    let lines: string[] | undefined;
    const refused = await this.deliver(body, () => (lines ??= splitLines(bodyText(body))), true);
    if (refused.size === 0) return;
    const indexes = [...refused.keys()].sort((a, b) => a - b);
    const reasons = [...new Set([...refused.values()].map((r) => r.message))];
    const text = reasons.length <= 4 ? reasons.join('; ') : `${reasons.slice(0, 3).join('; ')}; ${reasons.at(-1)} (and ${reasons.length - 4} more reasons)`;
    throw new PermanentWriteError(text, refused.values().next().value!.status, indexes);
  }

  close(): void {
    this.http.close();
  }

  /**
   * Sends one body and returns its refused lines (empty: all stored). `top`: the outbox's own request, where a
   * refusal of every line that leaves unknown what was stored is thrown without line numbers (the outbox then finds
   * the refused batch by sending each on its own); below it (a half, a resend), such lines all count as refused.
   */
  private async deliver(body: WriteBody, lines: () => string[], top: boolean, resends = 0): Promise<Refused> {
    let a = await this.post(body);
    if (a === undefined) return new Map();
    let answer = this.dialect.read(a, lines);
    if (answer.kind === 'retry' && answer.error.reason === 'database' && this.dialect.createsDatabase && /database not found/.test(answer.error.message)) {
      // Someone dropped the database (or InfluxDB came back empty): create it and try once more now.
      await this.ensureDatabase();
      a = await this.post(body);
      if (a === undefined) return new Map();
      answer = this.dialect.read(a, lines);
    }
    if (answer.kind === 'retry') throw answer.error;
    if (answer.kind === 'tooLarge') return this.halves(lines(), answer.message);
    return this.refusal(answer, lines, top, resends);
  }

  private async refusal(r: Refusal, lines: () => string[], top: boolean, resends: number): Promise<Refused> {
    const all = (): Refused => {
      if (top) throw new PermanentWriteError(r.message, r.status);
      return new Map(lines().map((_, i) => [i, r]));
    };
    if (r.partial) {
      let named: readonly number[] | undefined = r.named;
      if (named !== undefined && r.cut === true) {
        // Lines after the last one listed may have been refused too: they go to the dead letters with the others
        // (stored ones among them are rewritten with the same values if the dead letters are replayed).
        const last = named[named.length - 1]!;
        named = [
          ...named,
          ...lines()
            .slice(last + 1)
            .map((_, k) => last + 1 + k),
        ];
      }
      named ??= await this.refine(r, lines());
      return named === undefined ? all() : new Map(named.map((i) => [i, r]));
    }
    const named = r.named;
    if (named === undefined || named.length === 0) return all();
    // Nothing was stored: refuse the named lines, send the others again.
    const refused: Refused = new Map(named.map((i) => [i, r]));
    const restIdx = lines().flatMap((_, i) => (refused.has(i) ? [] : [i]));
    if (restIdx.length === 0) return refused;
    if (resends >= MAX_RESENDS) {
      // Never stored, not known to be bad: kept with the reason, so nothing is lost (the gateway never formats a
      // malformed line itself; this takes a damaged outbox file).
      const message = `not sent: InfluxDB refused ${MAX_RESENDS + 1} malformed lines of this request one at a time (it names only the first); the rest is kept here unsent`;
      for (const i of restIdx) refused.set(i, { status: r.status, message });
      return refused;
    }
    const rest = restIdx.map((i) => lines()[i]!);
    const sub = await this.deliver(rest.join('\n'), () => rest, false, resends + 1);
    for (const [k, v] of sub) refused.set(restIdx[k]!, v);
    return refused;
  }

  /** 413: the halves one after the other; a single line too large is refused. */
  private async halves(lines: string[], message: string): Promise<Refused> {
    if (lines.length <= 1) return new Map(lines.map((_, i) => [i, { message: `request too large (413) even as a single line: ${message}`, status: 413 }]));
    const mid = Math.ceil(lines.length / 2);
    const refused: Refused = new Map();
    for (const [from, part] of [
      [0, lines.slice(0, mid)],
      [mid, lines.slice(mid)],
    ] as const) {
      const sub = await this.deliver(part.join('\n'), () => part, false);
      for (const [k, v] of sub) refused.set(from + k, v);
    }
    return refused;
  }

  /** Undefined: stored (2xx). */
  private async post(body: WriteBody): Promise<HttpAnswer | undefined> {
    let a: HttpAnswer;
    try {
      a = await this.http.request('POST', this.dialect.writePath, this.dialect.writeQuery, body, { contentType: 'text/plain; charset=utf-8' });
    } catch (err) {
      throw networkError(err);
    }
    return a.status >= 200 && a.status < 300 ? undefined : a;
  }

  /** A 1.x-engine "partial write: ... dropped=N" (v1 400, v2 422): which lines, when it can be known. */
  private async refine(r: Refusal, lines: readonly string[]): Promise<number[] | undefined> {
    const pw = parsePartialWrite(r.message);
    if (!pw) return undefined;
    const byParse = refusedByParse(lines, pw);
    if (byParse) return byParse;
    try {
      return await refusedByTypes(lines, pw, (ms) => this.fieldTypes(ms));
    } catch {
      return undefined; // no schema answer: the whole request counts as refused
    }
  }

  /** SHOW FIELD KEYS over /query (v1; v2's v1-compatible API, which needs a DBRP mapping for the bucket). */
  private async fieldTypes(measurements: readonly string[]): Promise<Map<string, Map<string, Set<FieldType>>>> {
    const db = this.dialect.queryDatabase;
    if (db === undefined) throw new Error('no InfluxQL endpoint');
    const out = new Map<string, Map<string, Set<FieldType>>>();
    for (const m of measurements) {
      const a = await this.http.request('GET', '/query', { db, q: `SHOW FIELD KEYS FROM "${escapeIdent(m)}"` }, undefined, { readOk: true });
      if (a.status !== 200) throw new Error(`SHOW FIELD KEYS answered ${a.status}`);
      const fields = new Map<string, Set<FieldType>>();
      for (const [key, type] of seriesValues(a.text)) {
        let set = fields.get(key);
        if (!set) fields.set(key, (set = new Set()));
        set.add(type as FieldType);
      }
      out.set(m, fields);
    }
    return out;
  }
}

const escapeIdent = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

/** Rows of an InfluxQL JSON answer (`results[0].series[*].values`), each as [first column, second column]. */
function seriesValues(text: string): [string, string][] {
  const j = JSON.parse(text) as { results?: { error?: string; series?: { values?: unknown[][] }[] }[] };
  const r = j.results?.[0];
  if (r === undefined || r.error !== undefined) throw new Error(r?.error ?? 'no result');
  return (r.series ?? []).flatMap((s) => (s.values ?? []).map((v) => [String(v[0]), String(v[1])] as [string, string]));
}

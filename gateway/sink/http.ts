import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * A request body of newline-separated line protocol: a string, UTF-8 bytes, or UTF-8 chunks sent one after the
 * other (the outbox sends byte ranges of the bodies it read from disk as they are, separators included).
 */
export type WriteBody = string | Buffer | readonly Buffer[];

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body of a non-2xx answer (or of a query); empty for a 2xx write. */
  readonly text: string;
}

/** Our own request timeout (no answer within `timeoutMs`); network errors keep their errno `code`. */
export class HttpTimeoutError extends Error {
  override readonly name = 'HttpTimeoutError';
  readonly code = 'ETIMEDOUT';
}

/**
 * The sink's one HTTP client: writes, ping, CREATE DATABASE and queries of every dialect go through it, on one
 * keep-alive agent (a backlog drains as many requests in a row; a new TCP connection each time costs).
 *
 * Why not node-influx: its pool copies the whole body once only to learn its length (`Buffer.from(body).length`,
 * ~4 MB a request of a backlog), takes a single body where the outbox has byte ranges of several stored batches,
 * and after a network error takes the host out and fails every request with "No host available" even after
 * InfluxDB is back (https://github.com/node-influx/node-influx/issues/642). Retrying is the outbox's job.
 *
 * Secrets: `authorization` is a header only; it is never part of an error message or a path.
 */
export class InfluxHttp {
  private readonly agent: HttpAgent;
  private readonly send: (o: RequestOptions) => ClientRequest;
  private readonly base: { hostname: string; port: number; prefix: string };

  constructor(
    url: string,
    private readonly authorization: string | undefined,
    private readonly timeoutMs: number,
  ) {
    const u = new URL(url);
    const https = u.protocol === 'https:';
    this.agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 4 }) : new HttpAgent({ keepAlive: true, maxSockets: 4 });
    this.send = https ? httpsRequest : httpRequest;
    this.base = {
      hostname: u.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(u.port || (https ? 443 : 80)),
      prefix: u.pathname === '/' ? '' : u.pathname.replace(/\/$/, ''),
    };
  }

  /**
   * One request; resolves with any HTTP answer (the caller classifies the status), rejects only on network
   * errors and timeouts. A 2xx answer's body is read only when `readOk` (queries), else drained.
   */
  request(
    method: 'GET' | 'POST',
    path: string,
    query: Record<string, string>,
    body?: WriteBody,
    opts: { readOk?: boolean; timeoutMs?: number; contentType?: string } = {},
  ): Promise<HttpAnswer> {
    const chunks = body === undefined ? [] : typeof body === 'string' ? [Buffer.from(body)] : Buffer.isBuffer(body) ? [body] : body;
    let length = 0;
    for (const c of chunks) length += c.length;
    const headers: Record<string, string | number> = {};
    if (method === 'POST') headers['content-length'] = length;
    if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
    if (this.authorization !== undefined) headers.authorization = this.authorization;
    const qs = new URLSearchParams(query).toString();
    return new Promise<HttpAnswer>((resolve, reject) => {
      let settled = false;
      const settle = (err: unknown, answer?: HttpAnswer) => {
        if (settled) return;
        settled = true;
        if (answer !== undefined) resolve(answer);
        else reject(err);
      };
      const req = this.send({
        method,
        hostname: this.base.hostname,
        port: this.base.port,
        path: `${this.base.prefix}${path}${qs ? `?${qs}` : ''}`,
        agent: this.agent,
        headers,
        // The socket may stay idle this long: InfluxDB answers a large write only once it is stored.
        timeout: opts.timeoutMs ?? this.timeoutMs,
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        res.on('error', (err) => settle(err));
        if (status >= 200 && status < 300 && opts.readOk !== true) {
          res.resume();
          res.on('end', () => settle(undefined, { status, headers: res.headers, text: '' }));
          return;
        }
        let text = '';
        res.setEncoding('utf8');
        // An error answer is read up to 64 KiB: enough for any refusal InfluxDB documents (v3: up to 100 lines).
        res.on('data', (s: string) => {
          if (text.length < 65_536 || opts.readOk === true) text += s;
        });
        res.on('end', () => settle(undefined, { status, headers: res.headers, text }));
      });
      req.on('error', (err) => settle(err));
      req.on('timeout', () => {
        settle(new HttpTimeoutError(`no answer within ${opts.timeoutMs ?? this.timeoutMs} ms`));
        req.destroy();
      });
      // One writev for the chunks: each is a byte range of a stored batch, sent without a joined copy.
      req.cork();
      for (const c of chunks) req.write(c);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The body as one string (the rare refusal paths and tests). */
export const bodyText = (body: WriteBody): string =>
  typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString() : Buffer.concat(body).toString();

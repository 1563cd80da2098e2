import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentWriteError, RetryableWriteError } from '../../gateway/sink/errors.js';
import { InfluxWriter } from '../../gateway/sink/influx-writer.js';
import { formatPoint } from '../../gateway/sink/line-protocol.js';
import type { OutPoint } from '../../gateway/sink/point.js';
import { freePort, startInfluxd, type InfluxServer } from '../support/influxd.js';

/** The InfluxDB writer against a real influxd 1.6: what it stores, how it reads refusals, how it classifies. */
let influx: InfluxServer;
let n = 0;
beforeAll(async () => {
  influx = await startInfluxd();
});
afterAll(async () => {
  await influx?.dispose();
});

const newWriter = (url = influx.url, timeoutMs = 5000) => {
  const database = `w_${++n}`;
  return { writer: new InfluxWriter({ url, database, timeoutMs }), database };
};

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('InfluxWriter', () => {
  it('creates the database and stores escaped names and every field kind exactly', async () => {
    const { writer, database } = newWriter();
    const p: OutPoint = {
      measurement: 'my meas,urement',
      tags: { 'tag key': 'a=b, c', plain: 'x', empty: '', bs: 'a\\b', bsEnd: 'z\\', 'bs,': 'q\\,r' },
      fields: {
        'f, =x': 1.25,
        big: 1e21,
        tiny: -1.5e-7,
        n: 42.6,
        huge: 2 ** 60,
        s: 'say "hi"\\ and\nbye',
        on: true,
        nan: Number.NaN,
      },
      intFields: ['n', 'huge'],
      time: 1_700_000_000_123,
    };
    await writer.write(formatPoint(p)!);
    const res = await influx.query(`SELECT * FROM "my meas,urement"`, database);
    const s = res[0]!.series![0]!;
    const row = Object.fromEntries(s.columns.map((c, i) => [c, s.values[0]![i]]));
    expect(row).toEqual({
      time: '2023-11-14T22:13:20.123Z',
      'tag key': 'a=b, c',
      plain: 'x',
      bs: 'a\\b',
      bsEnd: 'z/',
      'bs,': 'q/,r',
      'f, =x': 1.25,
      big: 1e21,
      tiny: -1.5e-7,
      n: 43,
      huge: 2 ** 60,
      s: 'say "hi"\\ and\nbye',
      on: true,
    });
    const keys = await influx.rows(`SHOW FIELD KEYS FROM "my meas,urement"`, database);
    expect(Object.fromEntries(keys.map((k) => [k.fieldKey, k.fieldType]))).toMatchObject({
      n: 'integer',
      huge: 'integer',
      big: 'float',
      s: 'string',
      on: 'boolean',
    });
    writer.close();
  });

  it('re-creates a database dropped behind its back', async () => {
    const { writer, database } = newWriter();
    await writer.write('m v=1 1000');
    await influx.query(`DROP DATABASE "${database}"`);
    await writer.write('m v=2 2000');
    expect(await influx.rows('SELECT v FROM m', database)).toEqual([{ time: '1970-01-01T00:00:02Z', v: 2 }]);
    writer.close();
  });

  it('reports a type conflict as a partial write naming exactly the refused lines (checked with SHOW FIELD KEYS)', async () => {
    const { writer, database } = newWriter();
    await writer.write('m,a=1 v=1i 1000');
    // Two conflicts on different fields; InfluxDB names only one of them in its answer.
    const body = ['m,a=1 v=1.5 2000', 'm,a=1 v=2i 3000', 'm,b=1 s=1i,q=1 4000', 'm,b=1 s=1.5,newf=3 5000'].join('\n');
    const err = await caught(writer.write(body));
    expect(err).toBeInstanceOf(PermanentWriteError);
    const e = err as PermanentWriteError;
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/^partial write: field type conflict: .* dropped=2$/);
    expect(e.refusedLines).toEqual([0, 3]);
    expect(await influx.rows('SELECT count(v) AS v, count(s) AS s FROM m', database)).toEqual([{ time: '1970-01-01T00:00:00Z', v: 2, s: 1 }]);
    writer.close();
  });

  it('writes a body given as chunks as one request, and numbers refused lines across the chunks', async () => {
    const { writer, database } = newWriter();
    const nl = Buffer.from('\n');
    await writer.write([Buffer.from('m,a=1 v=1 1000'), nl, Buffer.from('m,a=2 v=2 2000\nm,a=1 v=3 3000')]);
    expect(await influx.rows('SELECT count(v) AS v FROM m', database)).toEqual([{ time: '1970-01-01T00:00:00Z', v: 3 }]);
    const err = (await caught(
      writer.write([Buffer.from('m,a=1 v=4 4000'), nl, Buffer.from('not a line'), nl, Buffer.from('m,a=1 v=5 5000')]),
    )) as PermanentWriteError;
    expect(err.refusedLines).toEqual([1]);
    await writer.write([]); // nothing to send
    writer.close();
  });

  it('reads unparsable lines out of the answer', async () => {
    const { writer } = newWriter();
    const err = (await caught(writer.write('m v=1 1000\nnot a valid line\nm v=2 2000'))) as PermanentWriteError;
    expect(err.message).toMatch(/unable to parse 'not a valid line'/);
    expect(err.refusedLines).toEqual([1]);
    const all = (await caught(writer.write('garbage'))) as PermanentWriteError;
    expect(all).toBeInstanceOf(PermanentWriteError);
    expect(all.refusedLines).toBeUndefined();
    writer.close();
  });

  it('classifies a refused connection as retryable "unreachable" and recovers at once when the server returns', async () => {
    const { writer } = newWriter();
    await writer.write('m v=1 1000');
    await influx.stop();
    // The first request may still go out on the kept-alive socket that the stop just reset ('network');
    // from then on every attempt is a fresh connection, refused.
    const first = await caught(writer.write('m v=2 2000'));
    expect(first).toBeInstanceOf(RetryableWriteError);
    expect(['network', 'unreachable']).toContain((first as RetryableWriteError).reason);
    for (let i = 0; i < 3; i++) {
      const err = await caught(writer.write('m v=2 2000'));
      expect(err).toBeInstanceOf(RetryableWriteError);
      expect((err as RetryableWriteError).reason).toBe('unreachable');
      expect((err as RetryableWriteError).code).toBe('ECONNREFUSED');
    }
    expect(await writer.ping(500)).toBe(false);
    await influx.start();
    expect(await writer.ping(1000)).toBe(true);
    await writer.write('m v=3 3000'); // node-influx#642 would fail here with "No host available"
    writer.close();
  });
});

describe('InfluxWriter against a misbehaving HTTP server', () => {
  let server: Server;
  let url: string;
  let reply: (res: import('node:http').ServerResponse) => void = () => {};
  const queryOk = (res: import('node:http').ServerResponse) =>
    void res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":[{"statement_id":0}]}');
  let queryReply = queryOk;
  const seen: { url: string; auth: string | undefined; length: string | undefined; body: string }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (s: string) => (body += s));
      req.on('end', () => {
        seen.push({ url: req.url ?? '', auth: req.headers.authorization, length: req.headers['content-length'], body });
        if (req.url?.includes('/query')) {
          queryReply(res);
          return;
        }
        reply(res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it.each([
    [503, {}, 'server', undefined],
    [503, { 'retry-after': '12' }, 'server', 12_000],
    [500, {}, 'server', undefined],
    [429, { 'retry-after': '7' }, 'throttled', 7000],
    [401, {}, 'auth', undefined],
    [403, {}, 'auth', undefined],
    [404, {}, 'database', undefined], // not "database not found": a URL that is not InfluxDB's; kept, not dead-lettered
  ] as const)('HTTP %i is retryable', async (status, headers, reason, retryAfterMs) => {
    reply = (res) => res.writeHead(status, { ...headers, 'x-influxdb-error': 'nope' }).end('{"error":"nope"}');
    const { writer } = newWriter(url);
    const err = (await caught(writer.write('m v=1 1'))) as RetryableWriteError;
    expect(err).toBeInstanceOf(RetryableWriteError);
    expect(err.reason).toBe(reason);
    expect(err.retryAfterMs).toBe(retryAfterMs);
    writer.close();
  });

  it('HTTP 413 on a single line refuses that line with the server text; other 4xx are permanent', async () => {
    reply = (res) => res.writeHead(413, { 'x-influxdb-error': 'request entity too large' }).end('{"error":"request entity too large"}');
    const { writer } = newWriter(url);
    const err = (await caught(writer.write('m v=1 1'))) as PermanentWriteError;
    expect(err).toBeInstanceOf(PermanentWriteError);
    expect(err.status).toBe(413);
    expect(err.refusedLines).toEqual([0]);
    expect(err.message).toBe('request too large (413) even as a single line: request entity too large');
    reply = (res) => res.writeHead(418, { 'x-influxdb-error': 'teapot' }).end();
    const other = (await caught(writer.write('m v=1 1'))) as PermanentWriteError;
    expect([other.status, other.message, other.refusedLines]).toEqual([418, 'teapot', undefined]);
    writer.close();
  });

  it('HTTP 413: halves until each part fits, every line sent once to be stored', async () => {
    const stored: string[] = [];
    reply = (res) => {
      const body = seen[seen.length - 1]!.body;
      if (body.length > 40) return void res.writeHead(413, { 'x-influxdb-error': 'Request Entity Too Large' }).end();
      stored.push(...body.split('\n'));
      res.writeHead(204).end();
    };
    const { writer } = newWriter(url);
    const lines = Array.from({ length: 9 }, (_, i) => `m v=${i} ${i}`);
    await writer.write(lines.join('\n'));
    expect(stored).toEqual(lines);
    writer.close();
  });

  it("HTTP 400 with InfluxDB 3's partial-write body (its v1-compatible /write): the listed lines refused", async () => {
    reply = (res) =>
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'partial write of line protocol occurred', data: [{ original_line: 'm v=2 2', line_number: 2, error_message: 'bad' }] }));
    const { writer } = newWriter(url);
    const err = (await caught(writer.write('m v=1 1\nm v=2 2'))) as PermanentWriteError;
    expect([err.status, err.refusedLines, err.message]).toEqual([400, [1], 'partial write of line protocol occurred: line 2: bad']);
    writer.close();
  });

  it('HTTP 422 (not an answer 1.x documents) refuses the whole request', async () => {
    reply = (res) => res.writeHead(422, { 'x-influxdb-error': 'odd' }).end();
    const { writer } = newWriter(url);
    const err = (await caught(writer.write('m v=1 1\nm v=2 2'))) as PermanentWriteError;
    expect([err.status, err.refusedLines, err.message]).toEqual([422, undefined, 'odd']);
    writer.close();
  });

  it('a token is sent as "Token" (1.8+), a retention policy as rp', async () => {
    reply = (res) => res.writeHead(204).end();
    const writer = new InfluxWriter({ url, database: 'd', retentionPolicy: 'week', token: 'user:secret', timeoutMs: 5000 });
    seen.length = 0;
    await writer.write('m v=1 1');
    expect(seen.find((r) => r.url.includes('/write'))).toMatchObject({ url: '/write?db=d&rp=week&precision=ms', auth: 'Token user:secret' });
    writer.close();
  });

  it('CREATE DATABASE refused with 403 (a user without the admin right): the write goes ahead and decides', async () => {
    queryReply = (res) => void res.writeHead(403, { 'x-influxdb-error': 'requires admin privilege' }).end();
    reply = (res) => res.writeHead(204).end();
    const { writer } = newWriter(url);
    seen.length = 0;
    await writer.write('m v=1 1');
    expect(seen.map((r) => r.url.split('?')[0])).toEqual(['/query', '/write']);
    reply = (res) => res.writeHead(404, { 'x-influxdb-error': 'database not found: "w"' }).end();
    const err = (await caught(writer.write('m v=2 2'))) as RetryableWriteError;
    expect(err.reason).toBe('database');
    expect(err.message).toMatch(/^InfluxDB answered 404 for database "w_\d+": database not found: "w"$/);
    queryReply = queryOk;
    writer.close();
  });

  it('a server that never answers is a retryable timeout', async () => {
    reply = () => {}; // never respond
    const { writer } = newWriter(url, 300);
    const err = (await caught(writer.write('m v=1 1'))) as RetryableWriteError;
    expect(err).toBeInstanceOf(RetryableWriteError);
    expect(err.reason).toBe('timeout');
    writer.close();
  });

  it('posts to {path}/write with the database, ms precision, basic auth and the exact length', async () => {
    reply = (res) => res.writeHead(204).end();
    const writer = new InfluxWriter({ url: `${url}/influx/`, database: 'd b', username: 'u', password: 'p:w', timeoutMs: 5000 });
    seen.length = 0;
    await writer.write([Buffer.from('m v=1 1'), Buffer.from('\n'), Buffer.from('m,t=é v=2 2')]);
    const w = seen.find((r) => r.url.includes('/write'))!;
    expect(w).toEqual({
      url: '/influx/write?db=d+b&precision=ms',
      auth: `Basic ${Buffer.from('u:p:w').toString('base64')}`,
      length: String(Buffer.byteLength('m v=1 1\nm,t=é v=2 2')),
      body: 'm v=1 1\nm,t=é v=2 2',
    });
    writer.close();
  });

  it('nothing listening: unreachable', async () => {
    const { writer } = newWriter(`http://127.0.0.1:${await freePort()}`);
    const err = (await caught(writer.write('m v=1 1'))) as RetryableWriteError;
    expect(err.reason).toBe('unreachable');
    writer.close();
  });
});

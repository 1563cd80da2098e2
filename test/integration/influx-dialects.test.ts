import { afterEach, describe, expect, it } from 'vitest';
import { PermanentWriteError, RetryableWriteError } from '../../gateway/sink/errors.js';
import { InfluxWriter } from '../../gateway/sink/influx-writer.js';
import { startFakeInflux, type FakeApi, type FakeInflux } from '../support/fake-influx.js';
import { freePort } from '../support/influxd.js';

/**
 * Every documented answer of the v2 and v3 write APIs, one case each, against test/support/fake-influx.ts (which
 * cites the documentation it follows): what the writer sends, what it reports, and what ends up stored. The same
 * rows for v1 run against a real influxd 1.6 (outbox-writer.test.ts). The table: docs/influxdb.md.
 */
const TOKEN = 'sekrit-token-0123456789';
let fake: FakeInflux | undefined;
let writer: InfluxWriter | undefined;

afterEach(async () => {
  writer?.close();
  writer = undefined;
  await fake?.stop();
  fake = undefined;
});

async function setup(api: FakeApi, opts: { maxBodyBytes?: number; token?: string } = {}) {
  fake = await startFakeInflux({ api, token: TOKEN, org: 'acme', buckets: ['iot'], ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}) });
  writer = new InfluxWriter({ api, url: fake.url, database: 'iot', org: 'acme', token: opts.token ?? TOKEN, timeoutMs: 5000 });
  return { fake, writer };
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const lines = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `m,d=a v=${from + i} ${1000 + from + i}`);

describe.each(['v2', 'v3'] as const)('%s: answers every dialect reads alike', (api) => {
  it('204: every line stored once, on the documented path, query and Authorization', async () => {
    const { fake, writer } = await setup(api);
    await writer.write(lines(3).join('\n'));
    expect(fake.stored).toEqual(lines(3));
    const w = fake.writes[0]!;
    if (api === 'v2') {
      expect(w.path).toBe('/api/v2/write');
      expect(w.query).toEqual({ org: 'acme', bucket: 'iot', precision: 'ms' });
      expect(w.authorization).toBe(`Token ${TOKEN}`);
    } else {
      expect(w.path).toBe('/api/v3/write_lp');
      expect(w.query).toEqual({ db: 'iot', precision: 'millisecond', accept_partial: 'true', no_sync: 'false' });
      expect(w.authorization).toBe(`Bearer ${TOKEN}`);
    }
    expect(await writer.ping()).toBe(true);
  });

  it('401: kept (auth), and the error never shows the token', async () => {
    const { fake, writer } = await setup(api, { token: 'wrong-token-9876543210' });
    const err = (await caught(writer.write('m v=1 1'))) as RetryableWriteError;
    expect(err).toBeInstanceOf(RetryableWriteError);
    expect(err.reason).toBe('auth');
    expect(err.message).toMatch(/401/);
    expect(`${err.message} ${err.stack}`).not.toContain('wrong-token');
    expect(fake.stored).toEqual([]);
  });

  it('404 (database or bucket not found, or not InfluxDB at that URL): kept, the message says what', async () => {
    const { fake, writer } = await setup(api);
    fake.script.push({
      status: 404,
      body: api === 'v2' ? '{"code":"not found","message":"bucket \\"iot\\" not found"}' : '{"error":"database not found: iot"}',
    });
    const err = (await caught(writer.write('m v=1 1'))) as RetryableWriteError;
    expect(err.reason).toBe('database');
    expect(err.message).toMatch(api === 'v2' ? /bucket "iot".*not found/ : /database "iot".*database not found/);
  });

  it('413: the request is split in halves until each part fits; every line stored once', async () => {
    const body = lines(10);
    const { fake, writer } = await setup(api, { maxBodyBytes: 3 * (body[0]!.length + 1) });
    await writer.write(body.join('\n'));
    expect(fake.stored).toEqual(body);
    expect(fake.writes.filter((w) => w.status === 413).length).toBeGreaterThan(0);
  });

  it('413 on a single line: that line is refused with the reason, the others stored', async () => {
    const { fake, writer } = await setup(api, { maxBodyBytes: 40 });
    const long = `m,d=a v=1,pad="${'x'.repeat(60)}" 5`;
    const err = (await caught(writer.write([...lines(2), long, ...lines(1, 2)].join('\n')))) as PermanentWriteError;
    expect(err).toBeInstanceOf(PermanentWriteError);
    expect(err.refusedLines).toEqual([2]);
    expect(err.message).toMatch(/too large \(413\) even as a single line/);
    expect(fake.stored).toEqual(lines(3));
  });

  it('429 with Retry-After in seconds: kept (throttled), the delay honoured', async () => {
    const { fake, writer } = await setup(api);
    fake.script.push({ status: 429, headers: { 'retry-after': '30' }, body: '{"code":"too many requests","message":"over quota"}' });
    const err = (await caught(writer.write('m v=1 1'))) as RetryableWriteError;
    expect([err.reason, err.retryAfterMs]).toEqual(['throttled', 30_000]);
  });

  it('503 with Retry-After as an HTTP date: kept (server), the delay honoured', async () => {
    const { fake, writer } = await setup(api);
    const at = new Date(Date.now() + 120_000).toUTCString();
    fake.script.push({ status: 503, headers: { 'retry-after': at } });
    const err = (await caught(writer.write('m v=1 1'))) as RetryableWriteError;
    expect(err.reason).toBe('server');
    expect(err.retryAfterMs).toBeGreaterThan(60_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it('another 4xx (v3: 422, which it does not document for writes; v2: 405): the whole request is refused', async () => {
    const { fake, writer } = await setup(api);
    const status = api === 'v3' ? 422 : 405;
    fake.script.push({ status, body: '{"error":"odd"}' });
    const err = (await caught(writer.write(lines(2).join('\n')))) as PermanentWriteError;
    expect([err.status, err.refusedLines, err.message]).toEqual([status, undefined, 'odd']);
  });

  it('500: kept (server), backoff', async () => {
    const { fake, writer } = await setup(api);
    fake.script.push({ status: 500, body: '{"code":"internal error","message":"boom"}' });
    const err = (await caught(writer.write('m v=1 1'))) as RetryableWriteError;
    expect([err.reason, err.retryAfterMs, err.message]).toEqual(['server', undefined, 'InfluxDB answered 500: boom']);
  });

  it('nothing listening: kept (unreachable), ping false', async () => {
    const w = new InfluxWriter({ api, url: `http://127.0.0.1:${await freePort()}`, database: 'iot', org: 'acme', token: TOKEN, timeoutMs: 2000 });
    const err = (await caught(w.write('m v=1 1'))) as RetryableWriteError;
    expect(err.reason).toBe('unreachable');
    expect(await w.ping(500)).toBe(false);
    w.close();
  });
});

describe('v2: refusals', () => {
  it('400 names the first malformed line and stores nothing: that line is refused, the others sent again once', async () => {
    const { fake, writer } = await setup('v2');
    const body = [...lines(2), 'm,d=a broken', ...lines(1, 2), 'another broken line', ...lines(1, 3)];
    const err = (await caught(writer.write(body.join('\n')))) as PermanentWriteError;
    expect(err).toBeInstanceOf(PermanentWriteError);
    expect(err.refusedLines).toEqual([2, 4]);
    expect(err.message).toMatch(/unable to parse 'm,d=a broken'/);
    expect(fake.stored).toEqual(lines(4));
    expect(fake.writes.map((w) => w.status)).toEqual([400, 400, 204]);
  });

  it("400 with InfluxDB 3's partial-write body (3.x and Cloud Serverless behind the v2 API): the listed lines refused, nothing resent", async () => {
    const { fake, writer } = await setup('v2');
    fake.script.push({
      status: 400,
      body: JSON.stringify({
        error: 'partial write of line protocol occurred',
        data: [{ original_line: 'x', line_number: 2, error_message: 'invalid column type' }],
      }),
    });
    const err = (await caught(writer.write(lines(3).join('\n')))) as PermanentWriteError;
    expect([err.status, err.refusedLines]).toEqual([400, [1]]);
    expect(fake.writes).toHaveLength(1);
  });

  it('400 that names no line of the request: the whole request is refused', async () => {
    const { fake, writer } = await setup('v2');
    fake.script.push({ status: 400, body: '{"code":"invalid","message":"precision not supported"}' });
    const err = (await caught(writer.write(lines(2).join('\n')))) as PermanentWriteError;
    expect([err.status, err.refusedLines, err.message]).toEqual([400, undefined, 'precision not supported']);
  });

  it('422 field type conflict (partial write): the refused lines found with SHOW FIELD KEYS, the others stored once', async () => {
    const { fake, writer } = await setup('v2');
    await writer.write('m,d=a v=1i 1');
    const err = (await caught(writer.write(['m,d=a v=2i 2', 'm,d=a v=2.5 3', 'm,d=a v=3i 4'].join('\n')))) as PermanentWriteError;
    expect(err.status).toBe(422);
    expect(err.refusedLines).toEqual([1]);
    expect(err.message).toMatch(/partial write: field type conflict/);
    expect(fake.stored).toEqual(['m,d=a v=1i 1', 'm,d=a v=2i 2', 'm,d=a v=3i 4']);
    expect(fake.received.some((r) => r.path === '/query' && r.authorization === `Token ${TOKEN}`)).toBe(true);
  });

  it('422 that does not say which lines (retention): the whole request is refused', async () => {
    const { fake, writer } = await setup('v2');
    fake.script.push({
      status: 422,
      body: '{"code":"unprocessable entity","message":"failure writing points to database: partial write: points beyond retention policy dropped=1"}',
    });
    const err = (await caught(writer.write(lines(2).join('\n')))) as PermanentWriteError;
    expect([err.status, err.refusedLines]).toEqual([422, undefined]);
    expect(err.message).toMatch(/beyond retention policy dropped=1/);
  });
});

describe('v3: refusals', () => {
  it('400 partial write: the listed line numbers (1-based) are refused, the others stored once', async () => {
    const { fake, writer } = await setup('v3');
    await writer.write('m,d=a v=1 1');
    const err = (await caught(writer.write(['m,d=a v=2 2', 'm,d=a v="x" 3', 'not a line', 'm,d=a v=4 4'].join('\n')))) as PermanentWriteError;
    expect([err.status, err.refusedLines]).toEqual([400, [1, 2]]);
    expect(err.message).toMatch(/^partial write of line protocol occurred: line 2: invalid column type for column 'v'.*; line 3: /);
    expect(fake.stored).toEqual(['m,d=a v=1 1', 'm,d=a v=2 2', 'm,d=a v=4 4']);
    expect(fake.writes).toHaveLength(2);
  });

  it('400 listing 100 lines (the most it lists): lines after the last listed count as refused too', async () => {
    const { fake, writer } = await setup('v3');
    await writer.write('m,d=a v=1 1');
    const body = [...Array.from({ length: 100 }, (_, i) => `m,d=a v="s${i}" ${i + 10}`), 'm,d=a v="late" 200', 'm,d=a v=3 300'];
    const err = (await caught(writer.write(body.join('\n')))) as PermanentWriteError;
    expect(err.refusedLines).toEqual(Array.from({ length: 102 }, (_, i) => i));
    expect(fake.stored).toContain('m,d=a v=3 300'); // stored by InfluxDB, also kept in the dead letters: unknowable
  });

  it('400 that is not a partial write: the whole request is refused', async () => {
    const { fake, writer } = await setup('v3');
    fake.script.push({ status: 400, body: '{"error":"invalid database name"}' });
    const err = (await caught(writer.write(lines(2).join('\n')))) as PermanentWriteError;
    expect([err.status, err.refusedLines, err.message]).toEqual([400, undefined, 'invalid database name']);
  });

  it('schema: a tag and a field of one name, or a new tag on an existing table, are refused line by line', async () => {
    const { fake, writer } = await setup('v3');
    await writer.write('t,device=a,sensor=s mean=1 1');
    const err = (await caught(
      writer.write(['t,device=a,sensor=s mean=2 2', 't,device=a,sensor=s,site=n mean=3 3', 't,device=a,sensor=s,mean=x v=1 4'].join('\n')),
    )) as PermanentWriteError;
    expect(err.refusedLines).toEqual([1, 2]);
    expect(fake.stored).toEqual(['t,device=a,sensor=s mean=1 1', 't,device=a,sensor=s mean=2 2']);
  });
});

describe('v2: many malformed lines', () => {
  it('after 33 rounds (each naming one line) the unsent rest is dead-lettered with its own reason, nothing stored twice', async () => {
    const { fake, writer } = await setup('v2');
    const body = [...Array.from({ length: 40 }, (_, i) => `bad line ${i}`), ...lines(2)];
    const err = (await caught(writer.write(body.join('\n')))) as PermanentWriteError;
    expect(err.refusedLines).toEqual(body.map((_, i) => i));
    expect(err.message).toMatch(/^unable to parse 'bad line 0'.*; not sent: InfluxDB refused 33 malformed lines .* \(and 30 more reasons\)$/);
    expect(fake.writes).toHaveLength(33);
    expect(fake.stored).toEqual([]);
  });
});

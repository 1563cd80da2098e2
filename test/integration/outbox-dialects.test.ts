import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { groupBySeries } from '../../gateway/outbox/lanes.js';
import { Outbox } from '../../gateway/outbox/outbox.js';
import { SqliteOutboxStore } from '../../gateway/outbox/sqlite-store.js';
import { formatPoint } from '../../gateway/sink/line-protocol.js';
import type { OutPoint } from '../../gateway/sink/point.js';
import { InfluxWriter } from '../../gateway/sink/influx-writer.js';
import { startFakeInflux, type FakeApi, type FakeInflux } from '../support/fake-influx.js';
import { harness, point, type Harness } from '../support/outbox-harness.js';

/**
 * The outbox over a real SQLite file, writing with influx.api v2 and v3 to the documented-protocol fake
 * (test/support/fake-influx.ts): an outage and partial writes end with every accepted line stored exactly once and
 * every refused line in the dead letters with InfluxDB's reason. The same for v1 runs against a real influxd
 * (outbox.test.ts, outbox-failures.test.ts).
 */
const TOKEN = 'tok-0123456789abcdef';
let fake: FakeInflux | undefined;
let h: Harness | undefined;
let outbox: Outbox | undefined;

afterEach(async () => {
  await outbox?.close();
  outbox = undefined;
  await fake?.stop();
  fake = undefined;
  h?.cleanup();
  h = undefined;
});

async function build(api: FakeApi, o: { batchSize?: number; maxRequestPoints?: number; minSplitPoints?: number; writeLanes?: number } = {}) {
  fake = await startFakeInflux({ api, token: TOKEN, org: 'acme', buckets: ['iot'] });
  h = harness();
  const store = new SqliteOutboxStore({ file: join(h.dir, 'outbox.db'), sync: 'normal', log: h.log });
  const writer = new InfluxWriter({ api, url: fake.url, database: 'iot', org: 'acme', token: TOKEN, timeoutMs: 5000 });
  outbox = new Outbox({
    store,
    writer,
    metrics: h.metrics,
    log: h.log,
    batchSize: o.batchSize ?? 50,
    flushIntervalMs: 50,
    maxBytes: 64 * 1024 * 1024,
    backoff: { initialMs: 50, maxMs: 200, probeIntervalMs: 50 },
    ...(o.maxRequestPoints ? { maxRequestPoints: o.maxRequestPoints, minSplitPoints: o.minSplitPoints ?? o.maxRequestPoints } : {}),
    ...(o.writeLanes ? { writeLanes: o.writeLanes } : {}),
  });
  return { fake, h, store, outbox };
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const lineOf = (p: OutPoint) => formatPoint(p)!;
/** A point whose `mean` is an integer: refused where `mean` is already a float. */
const conflicting = (i: number): OutPoint => ({ ...point(i), fields: { mean: i, seq: i, revision: 0 }, intFields: ['mean', 'seq', 'revision'] });

describe.each(['v2', 'v3'] as const)('outbox with influx.api %s', (api) => {
  it('an outage (connection refused, then 503 with Retry-After): every point stored exactly once after it', async () => {
    const { fake, h, outbox } = await build(api);
    outbox.start();
    outbox.append(range(0, 100).map((i) => point(i)));
    await vi.waitFor(() => expect(fake.stored).toHaveLength(100), { timeout: 10_000, interval: 20 });

    await fake.stop();
    outbox.append(range(100, 400).map((i) => point(i)));
    outbox.flush();
    // The first attempt may go out on the kept-alive socket the stop just cut ('socket hang up'); then refused.
    await vi.waitFor(() => expect(outbox.status().lastError).toMatch(/ECONNREFUSED/), { timeout: 10_000, interval: 20 });
    expect(outbox.status().influxUp).toBe(false);
    fake.script.push({ status: 503, headers: { 'retry-after': '1' } }, { status: 503, headers: { 'retry-after': '1' } });
    await fake.start();

    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 20_000, interval: 50 });
    expect([...fake.stored].sort()).toEqual(
      range(0, 400)
        .map((i) => lineOf(point(i)))
        .sort(),
    );
    expect(fake.writes.filter((w) => w.status === 503)).toHaveLength(2);
    expect(outbox.deadLetters()).toEqual([]);
    expect(await h.counter('pointsWritten')).toBe(400);
  });

  it('a partial write in a merged request: accepted lines stored once, refused ones dead-lettered with the reason', async () => {
    const { fake, h, outbox } = await build(api, { batchSize: 10, maxRequestPoints: 1000 });
    // 31 points in four batches, two with a conflicting `mean` (point 0 makes it a float); one request once started.
    const pts = range(0, 31).map((i) => (i === 7 || i === 22 ? conflicting(i) : point(i)));
    outbox.append(pts);
    outbox.flush();
    outbox.start();

    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 10_000, interval: 20 });
    const accepted = pts.filter((_, k) => k !== 7 && k !== 22).map(lineOf);
    expect([...fake.stored].sort()).toEqual(accepted.sort());
    expect(fake.writes.filter((w) => w.path.includes('write'))).toHaveLength(1); // nothing sent twice
    const letters = outbox.deadLetters();
    expect(letters.flatMap((d) => d.body.split('\n')).sort()).toEqual([lineOf(conflicting(7)), lineOf(conflicting(22))].sort());
    for (const d of letters)
      expect(d.error).toMatch(
        api === 'v2' ? /partial write: field type conflict/ : /partial write of line protocol occurred: line \d+: invalid column type for column 'mean'/,
      );
    expect(await h.counter('outboxDeadLettered')).toBe(2);
    expect(await h.counter('pointsWritten')).toBe(29);
  });
});

describe.each(['v2', 'v3'] as const)('outbox with influx.api %s, a backlog split into lanes', (api) => {
  it('a partial write in one lane: accepted lines of both lanes stored once, the refused ones dead-lettered', async () => {
    const { fake, h, outbox } = await build(api, { batchSize: 10, maxRequestPoints: 1000, minSplitPoints: 20, writeLanes: 2 });
    // Every device's first point is a float; its later conflicting ones are refused whatever lane it is in.
    const pts = range(0, 60).map((i) => (i >= 10 && i % 7 === 0 ? conflicting(i) : point(i)));
    outbox.append(pts);
    outbox.flush();
    outbox.start();
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 10_000, interval: 20 });
    const refused = pts.filter((_, i) => i >= 10 && i % 7 === 0).map(lineOf);
    expect(fake.writes.length).toBeGreaterThan(1); // lanes
    expect(fake.writes.every((w) => w.lines.length < 60)).toBe(true);
    expect([...fake.stored].sort()).toEqual(
      pts
        .map(lineOf)
        .filter((l) => !refused.includes(l))
        .sort(),
    );
    expect(
      outbox
        .deadLetters()
        .flatMap((d) => d.body.split('\n'))
        .sort(),
    ).toEqual([...refused].sort());
    expect(await h.counter('pointsWritten')).toBe(60 - refused.length);
  });
});

describe('outbox with influx.api v2: a malformed line (400, nothing stored)', () => {
  it('dead-letters that line and stores every other line once', async () => {
    const { fake, store, outbox } = await build('v2');
    const good = range(0, 5).map((i) => lineOf(point(i)));
    // Stored as the outbox stores a batch: grouped by series, with its cuts (lanes.ts).
    const { body, cuts } = groupBySeries([good[0]!, good[1]!, 'telemetry,device=x broken', good[2]!, good[3]!, good[4]!]);
    store.append({ body, cuts, createdMs: 0, points: 6, bytes: Buffer.byteLength(body), minTime: 0, maxTime: 0 });
    outbox.start();
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 10_000, interval: 20 });
    expect([...fake.stored].sort()).toEqual([...good].sort());
    expect(outbox.deadLetters().map((d) => [d.body, d.error])).toEqual([
      ['telemetry,device=x broken', "unable to parse 'telemetry,device=x broken': invalid field format"],
    ]);
  });
});

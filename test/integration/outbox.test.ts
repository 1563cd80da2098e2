import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Outbox, type OutboxOptions } from '../../gateway/outbox/outbox.js';
import { SqliteOutboxStore } from '../../gateway/outbox/sqlite-store.js';
import { InfluxWriter } from '../../gateway/sink/influx-writer.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { harness, point, type Harness } from '../support/outbox-harness.js';
import { join } from 'node:path';

/**
 * Store-and-forward against a real influxd and a real SQLite file: outages, flapping, node-influx#642,
 * ordering of corrections. Each test writes to its own database on one shared server.
 */
let influx: InfluxServer;
let h: Harness;
let outbox: Outbox | undefined;
let dbCounter = 0;

beforeAll(async () => {
  influx = await startInfluxd();
});
afterAll(async () => {
  await influx?.dispose();
});
afterEach(async () => {
  await outbox?.close();
  outbox = undefined;
  if (!influx.running) await influx.start();
  h?.cleanup();
});

function build(opts: { batchSize?: number; flushIntervalMs?: number; backoff?: OutboxOptions['backoff']; maxRequestPoints?: number } = {}) {
  h = harness();
  const database = `outbox_${++dbCounter}`;
  const store = new SqliteOutboxStore({ file: join(h.dir, 'outbox.db'), sync: 'normal', log: h.log });
  const writer = new InfluxWriter({ url: influx.url, database, timeoutMs: 5000 });
  outbox = new Outbox({
    store,
    writer,
    metrics: h.metrics,
    log: h.log,
    batchSize: opts.batchSize ?? 100,
    flushIntervalMs: opts.flushIntervalMs ?? 50,
    maxBytes: 64 * 1024 * 1024,
    ...(opts.backoff ? { backoff: opts.backoff } : {}),
    ...(opts.maxRequestPoints ? { maxRequestPoints: opts.maxRequestPoints } : {}),
  });
  return { outbox, database, store };
}

async function seqs(database: string): Promise<number[]> {
  const rows = await influx.rows('SELECT seq FROM telemetry', database);
  return rows.map((r) => r.seq as number).sort((a, b) => a - b);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('outbox with a real InfluxDB', () => {
  it('commits to SQLite before sending and delivers every point once', async () => {
    const { outbox, database } = build();
    outbox.start();
    outbox.append(range(0, 1000).map((i) => point(i)));
    await vi.waitFor(async () => expect(await seqs(database)).toEqual(range(0, 1000)), { timeout: 20_000, interval: 100 });
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 5000 });
    expect(await h.counter('pointsWritten')).toBe(1000);
    expect(outbox.status().influxUp).toBe(true);
  });

  it('survives an outage: points appended while influxd is down all arrive after it returns', async () => {
    const { outbox, database } = build();
    outbox.start();
    outbox.append(range(0, 200).map((i) => point(i)));
    await vi.waitFor(async () => expect((await seqs(database)).length).toBe(200), { timeout: 20_000, interval: 100 });

    await influx.stop();
    outbox.append(range(200, 700).map((i) => point(i)));
    outbox.flush();
    await vi.waitFor(() => expect(outbox.status().influxUp).toBe(false), { timeout: 20_000 });
    // While it is down the points are on disk, not lost.
    expect(outbox.status().points + outbox.status().openPoints).toBe(500);
    expect(await h.counter('outboxRetried')).toBeGreaterThan(0);

    await influx.start();
    await vi.waitFor(async () => expect(await seqs(database)).toEqual(range(0, 700)), { timeout: 20_000, interval: 100 });
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 5000 });
    expect(await h.counter('pointsWritten')).toBe(700);
    expect(outbox.status().influxUp).toBe(true);
  });

  it('node-influx#642: after ECONNREFUSED it drains soon after the server is back, long before the retry delay', async () => {
    // A first retry delay of 20 s (at least 16 s with jitter): only the ping probe can bring the data out sooner.
    const { outbox, database } = build({ backoff: { initialMs: 20_000, probeIntervalMs: 500 } });
    await influx.stop();
    outbox.start();
    outbox.append(range(0, 300).map((i) => point(i)));
    outbox.flush();
    await vi.waitFor(async () => expect(await h.counter('outboxRetried')).toBe(300), { timeout: 10_000, interval: 50 });
    expect(outbox.status().lastError).toMatch(/ECONNREFUSED/);
    expect(outbox.status().draining).toBe(false);
    await influx.start();
    await vi.waitFor(async () => expect(await seqs(database)).toEqual(range(0, 300)), { timeout: 10_000, interval: 100 });
    expect(await h.counter('outboxRetried')).toBe(300); // one failed attempt, then success: no "No host available" in between
    const errors = h.logLines().filter((l) => String(l.err ?? '').includes('No host available'));
    expect(errors).toEqual([]);
  });

  it('flapping: influxd going up and down repeatedly loses nothing', async () => {
    const { outbox, database } = build({ batchSize: 50 });
    outbox.start();
    let next = 0;
    for (let round = 0; round < 4; round++) {
      outbox.append(range(next, next + 150).map((i) => point(i)));
      next += 150;
      await new Promise((r) => setTimeout(r, 150));
      await influx.stop();
      outbox.append(range(next, next + 150).map((i) => point(i)));
      next += 150;
      await new Promise((r) => setTimeout(r, 150));
      await influx.start();
    }
    await vi.waitFor(async () => expect(await seqs(database)).toEqual(range(0, next)), { timeout: 30_000, interval: 200 });
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 5000 });
  });

  it.each([
    ['one request per batch', 1],
    ['batches merged into one request', 50_000],
  ])('ordering (%s): a correction committed after the original wins in InfluxDB, even across an outage', async (_label, maxRequestPoints) => {
    const { outbox, database } = build({ batchSize: 10, maxRequestPoints });
    outbox.start();
    await influx.stop();
    const t = 1_700_000_000_000;
    // Same series and time (one window), three versions in three different batches.
    outbox.append([point(1, { device: 'd', time: t, value: 1, rev: 0 })]);
    outbox.flush();
    outbox.append([point(2, { device: 'd', time: t, value: 2, rev: 1 })]);
    outbox.flush();
    outbox.append(range(10, 30).map((i) => point(i, { device: 'other' })));
    outbox.append([point(3, { device: 'd', time: t, value: 3, rev: 2 })]);
    outbox.flush();
    expect(outbox.status().batches).toBeGreaterThanOrEqual(4);
    await influx.start();
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 20_000, interval: 100 });
    const rows = await influx.rows(`SELECT mean, revision FROM telemetry WHERE device = 'd'`, database);
    expect(rows.map((r) => ({ ...r, time: Date.parse(String(r.time)) }))).toEqual([{ time: t, mean: 3, revision: 2 }]);
  });

  it('a restart of the gateway forwards what the previous run left on disk', async () => {
    const { outbox: first, database } = build();
    await influx.stop();
    first.start();
    first.append(range(0, 250).map((i) => point(i)));
    await first.close(); // flushes the open batch into SQLite
    outbox = undefined;
    await influx.start();

    const store = new SqliteOutboxStore({ file: join(h.dir, 'outbox.db'), sync: 'full', log: h.log });
    expect(store.totals().points).toBe(250);
    outbox = new Outbox({
      store,
      writer: new InfluxWriter({ url: influx.url, database, timeoutMs: 5000 }),
      metrics: h.metrics,
      log: h.log,
      batchSize: 100,
      flushIntervalMs: 50,
      maxBytes: 64 * 1024 * 1024,
    });
    outbox.start();
    await vi.waitFor(async () => expect(await seqs(database)).toEqual(range(0, 250)), { timeout: 20_000, interval: 100 });
  });
});

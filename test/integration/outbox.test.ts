import { describe, expect, it, vi } from 'vitest';
import { point } from '../support/outbox-harness.js';
import { outboxSuite } from '../support/outbox-influx.js';

/**
 * Store-and-forward against a real influxd and a real SQLite file: outages, flapping, node-influx#642,
 * ordering of corrections. Each test writes to its own database on one shared server.
 */
const s = outboxSuite('outbox');

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('outbox with a real InfluxDB', () => {
  it('commits to SQLite before sending and delivers every point once', async () => {
    const { outbox, database } = s.build();
    outbox.start();
    outbox.append(range(0, 1000).map((i) => point(i)));
    await vi.waitFor(async () => expect(await s.seqs(database)).toEqual(range(0, 1000)), { timeout: 20_000, interval: 100 });
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 5000 });
    expect(await s.h.counter('pointsWritten')).toBe(1000);
    expect(outbox.status().influxUp).toBe(true);
  });

  it('survives an outage: points appended while influxd is down all arrive after it returns', async () => {
    const { outbox, database } = s.build();
    outbox.start();
    outbox.append(range(0, 200).map((i) => point(i)));
    await vi.waitFor(async () => expect((await s.seqs(database)).length).toBe(200), { timeout: 20_000, interval: 100 });

    await s.influx.stop();
    outbox.append(range(200, 700).map((i) => point(i)));
    outbox.flush();
    await vi.waitFor(() => expect(outbox.status().influxUp).toBe(false), { timeout: 20_000 });
    // While it is down the points are on disk, not lost.
    expect(outbox.status().points + outbox.status().openPoints).toBe(500);
    expect(await s.h.counter('outboxRetried')).toBeGreaterThan(0);

    await s.influx.start();
    await vi.waitFor(async () => expect(await s.seqs(database)).toEqual(range(0, 700)), { timeout: 20_000, interval: 100 });
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 5000 });
    expect(await s.h.counter('pointsWritten')).toBe(700);
    expect(outbox.status().influxUp).toBe(true);
  });

  it('node-influx#642: after ECONNREFUSED it drains soon after the server is back, long before the retry delay', async () => {
    // A first retry delay of 20 s (at least 16 s with jitter): only the ping probe can bring the data out sooner.
    const { outbox, database } = s.build({ backoff: { initialMs: 20_000, probeIntervalMs: 500 } });
    await s.influx.stop();
    outbox.start();
    outbox.append(range(0, 300).map((i) => point(i)));
    outbox.flush();
    await vi.waitFor(async () => expect(await s.h.counter('outboxRetried')).toBe(300), { timeout: 10_000, interval: 50 });
    expect(outbox.status().lastError).toMatch(/ECONNREFUSED/);
    expect(outbox.status().draining).toBe(false);
    await s.influx.start();
    await vi.waitFor(async () => expect(await s.seqs(database)).toEqual(range(0, 300)), { timeout: 10_000, interval: 100 });
    expect(await s.h.counter('outboxRetried')).toBe(300); // one failed attempt, then success: no "No host available" in between
    const errors = s.h.logLines().filter((l) => String(l.err ?? '').includes('No host available'));
    expect(errors).toEqual([]);
  });

  it('flapping: influxd going up and down repeatedly loses nothing', async () => {
    const { outbox, database } = s.build({ batchSize: 50 });
    outbox.start();
    let next = 0;
    for (let round = 0; round < 4; round++) {
      outbox.append(range(next, next + 150).map((i) => point(i)));
      next += 150;
      // Up: this round's points are delivered before influxd goes away.
      await vi.waitFor(() => expect(outbox.status().points + outbox.status().openPoints).toBe(0), { timeout: 20_000 });
      await s.influx.stop();
      outbox.append(range(next, next + 150).map((i) => point(i)));
      next += 150;
      outbox.flush();
      // Down: a send failed, so these points wait on disk when influxd comes back.
      await vi.waitFor(() => expect(outbox.status().influxUp).toBe(false), { timeout: 20_000 });
      await s.influx.start();
    }
    await vi.waitFor(async () => expect(await s.seqs(database)).toEqual(range(0, next)), { timeout: 30_000, interval: 200 });
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 5000 });
  });

  it.each([
    ['one request per batch', 1],
    ['batches merged into one request', 50_000],
  ])('ordering (%s): a correction committed after the original wins in InfluxDB, even across an outage', async (_label, maxRequestPoints) => {
    const { outbox, database } = s.build({ batchSize: 10, maxRequestPoints });
    outbox.start();
    await s.influx.stop();
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
    await s.influx.start();
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 20_000, interval: 100 });
    const rows = await s.influx.rows(`SELECT mean, revision FROM telemetry WHERE device = 'd'`, database);
    expect(rows.map((r) => ({ ...r, time: Date.parse(String(r.time)) }))).toEqual([{ time: t, mean: 3, revision: 2 }]);
  });

  it('a restart of the gateway forwards what the previous run left on disk', async () => {
    const { outbox: first, database } = s.build();
    await s.influx.stop();
    first.start();
    first.append(range(0, 250).map((i) => point(i)));
    await first.close(); // flushes the open batch into SQLite
    await s.influx.start();

    // The same folder, the same database: what a gateway started again on the same buffer.dir does.
    const { outbox: second, store } = s.build({ database, sync: 'full' });
    expect(store.totals().points).toBe(250);
    second.start();
    await vi.waitFor(async () => expect(await s.seqs(database)).toEqual(range(0, 250)), { timeout: 20_000, interval: 100 });
  });
});

import { existsSync, readdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { OutPoint } from '../../gateway/sink/point.js';
import { point } from '../support/outbox-harness.js';
import { outboxSuite } from '../support/outbox-influx.js';

/** Refusals, the size cap and damaged files, against a real influxd and real SQLite files. */
const s = outboxSuite('fail');

/** A point whose `mean` field is written as an integer: conflicts with the float `mean` of `point()`. */
const conflicting = (i: number): OutPoint => ({ ...point(i), fields: { mean: i, seq: i, revision: 0 }, intFields: ['mean', 'seq', 'revision'] });

describe('refused points', () => {
  it('a field type conflict (partial write) dead-letters only the refused points; the queue continues', async () => {
    const { outbox, database } = s.build({ batchSize: 10, maxRequestPoints: 10 });
    outbox.start();
    outbox.append([0, 1, 2, 3, 4].map((i) => point(i)));
    outbox.flush();
    await vi.waitFor(async () => expect(await s.seqs(database)).toEqual([0, 1, 2, 3, 4]), { timeout: 10_000, interval: 100 });

    // Batch with 2 conflicting points among 8 good ones, then a clean batch behind it.
    const mixed = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14].map((i) => (i === 7 || i === 12 ? conflicting(i) : point(i)));
    outbox.append(mixed);
    outbox.append([15, 16, 17].map((i) => point(i)));
    outbox.flush();

    const expected = [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16, 17];
    await vi.waitFor(async () => expect(await s.seqs(database)).toEqual(expected), { timeout: 10_000, interval: 100 });
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 5000 });
    expect(await s.h.counter('outboxDeadLettered')).toBe(2);
    expect(await s.h.counter('pointsWritten')).toBe(16);
    const letters = outbox.deadLetters();
    expect(letters).toHaveLength(1);
    expect(letters[0]!.points).toBe(2);
    expect(letters[0]!.error).toMatch(/field type conflict/);
    expect(letters[0]!.body.split('\n').map((l) => /seq=(\d+)i/.exec(l)?.[1])).toEqual(['7', '12']);
    expect(outbox.status().deadLetters).toBe(2);
  });

  it('conflicts merged into one multi-batch request are resolved batch by batch', async () => {
    const { outbox, database } = s.build({ batchSize: 5, maxRequestPoints: 1000 });
    outbox.append([0, 1].map((i) => point(i)));
    outbox.flush();
    outbox.append([2, 3, 4, 5, 6].map((i) => (i === 3 ? conflicting(i) : point(i))));
    outbox.append([7, 8, 9].map((i) => point(i)));
    outbox.flush();
    outbox.start(); // the backlog goes out as one request first
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 10_000 });
    expect(await s.seqs(database)).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9]);
    expect(await s.h.counter('outboxDeadLettered')).toBe(1);
  });

  it('a refusal that names no line dead-letters the whole batch and the queue continues', async () => {
    const { outbox, database } = s.build({ batchSize: 3, maxRequestPoints: 3 });
    outbox.start();
    outbox.append([point(0)]);
    outbox.flush();
    await vi.waitFor(async () => expect(await s.seqs(database)).toEqual([0]), { timeout: 10_000, interval: 100 });
    // A retention policy of 1h: points from 2023 are "beyond retention policy" (a partial write naming no line).
    await s.influx.query(`ALTER RETENTION POLICY "autogen" ON "${database}" DURATION 1h SHARD DURATION 1h DEFAULT`);
    const now = Date.now();
    outbox.append([point(1), point(2, { time: now }), point(3)]);
    outbox.append([point(4, { time: now + 1 })]);
    outbox.flush();
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 10_000 });
    expect(await s.h.counter('outboxDeadLettered')).toBe(3);
    const letters = outbox.deadLetters();
    expect(letters[0]!.error).toMatch(/beyond retention policy dropped=2/);
    expect(letters[0]!.points).toBe(3);
    expect((await s.seqs(database)).filter((seq) => seq > 0)).toEqual([2, 4]);
  });
});

describe('size cap', () => {
  it('drops the oldest batches when buffer.maxBytes is reached, counts and logs them', async () => {
    const { outbox, database } = s.build({ batchSize: 100, maxBytes: 1024 * 1024 });
    await s.influx.stop();
    outbox.start();
    // About 80 bytes a line: 30k points are ~2.4 MB, more than twice the cap.
    for (let i = 0; i < 30_000; i += 100) outbox.append(Array.from({ length: 100 }, (_, k) => point(i + k)));
    outbox.flush();
    const st = outbox.status();
    expect(st.bytes).toBeLessThanOrEqual(1024 * 1024);
    const dropped = await s.h.counter('outboxDropped');
    expect(dropped).toBeGreaterThan(10_000);
    const logged = s.h.logLines().filter((l) => l.msg === 'outbox full (buffer.maxBytes): dropped the oldest points');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged[0]).toMatchObject({ level: 50, from: expect.stringMatching(/^2023-/), to: expect.stringMatching(/^2023-/) });

    await s.influx.start();
    await vi.waitFor(() => expect(outbox.status().points).toBe(0), { timeout: 30_000, interval: 200 });
    const got = await s.seqs(database);
    // The newest points survive, the oldest went (besides the batch that was in flight at the time).
    expect(got.length).toBe(30_000 - dropped);
    expect(got[got.length - 1]).toBe(29_999);
    expect(got.filter((seq) => seq >= 100).length).toBeLessThan(30_000 - 100);
    expect(got).not.toContain(5000);
  });
});

describe('damaged outbox file', () => {
  it('moves a file that is not a database aside and starts fresh', async () => {
    const file = join(s.h.dir, 'outbox.db');
    writeFileSync(file, Buffer.alloc(8192, 'garbage! '));
    const { outbox, database, store } = s.build();
    expect(store.movedAside?.movedTo).toMatch(/outbox\.db\.corrupt-/);
    expect(readFileSync(store.movedAside!.movedTo, 'utf8').startsWith('garbage!')).toBe(true);
    const err = s.h.logLines().find((l) => l.level === 50 && String(l.msg).includes('corrupt'));
    expect(err).toMatchObject({ movedAside: store.movedAside?.movedTo });
    outbox.start();
    outbox.append([1, 2, 3].map((i) => point(i)));
    await vi.waitFor(async () => expect(await s.seqs(database)).toEqual([1, 2, 3]), { timeout: 10_000, interval: 100 });
  });

  it('moves a truncated database aside and starts fresh', async () => {
    const file = join(s.h.dir, 'outbox.db');
    {
      await s.influx.stop();
      const { outbox: first } = s.build({ batchSize: 100 });
      for (let i = 0; i < 5000; i += 100) first.append(Array.from({ length: 100 }, (_, k) => point(i + k)));
      await first.close();
      await s.influx.start();
    }
    const full = readFileSync(file);
    writeFileSync(file, full.subarray(0, Math.floor(full.length / 2)));
    const { outbox: second, database, store } = s.build();
    expect(store.movedAside).toBeDefined();
    expect(readdirSync(s.h.dir).some((f) => f.startsWith('outbox.db.corrupt-'))).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect(store.totals().points).toBe(0);
    second.start();
    second.append([point(7)]);
    await vi.waitFor(async () => expect(await s.seqs(database)).toEqual([7]), { timeout: 10_000, interval: 100 });
  });
});

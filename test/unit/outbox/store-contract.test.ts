import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { MemoryOutboxStore } from '../../../gateway/outbox/memory-store.js';
import { SqliteOutboxStore } from '../../../gateway/outbox/sqlite-store.js';
import type { NewBatch, OutboxStore } from '../../../gateway/outbox/store.js';

/** One suite, every OutboxStore implementation (STYLE habit 6). */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const implementations: [string, () => OutboxStore][] = [
  ['memory', () => new MemoryOutboxStore()],
  [
    'sqlite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'store-contract-'));
      dirs.push(dir);
      return new SqliteOutboxStore({ file: join(dir, 'outbox.db'), sync: 'normal', log: createLogger('silent') });
    },
  ],
];

const lim = (points: number) => ({ points, bytes: Infinity, batches: 100 });

const batch = (n: number, points = 10, bytes = 100): NewBatch => ({
  createdMs: 1000 + n,
  points,
  bytes,
  minTime: n * 10,
  maxTime: n * 10 + 9,
  body: `m v=${n} ${n}`,
  cuts: Uint32Array.of(0, bytes + 1),
});

describe.each(implementations)('OutboxStore contract: %s', (_name, make) => {
  it('appends with growing ids and peeks oldest first within the point budget', () => {
    const s = make();
    const ids = [1, 2, 3, 4].map((n) => s.append(batch(n)));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(s.peek(lim(25)).map((b) => b.id)).toEqual(ids.slice(0, 2));
    expect(s.peek(lim(5)).map((b) => b.id)).toEqual(ids.slice(0, 1)); // at least one even if over budget
    expect(s.peek({ points: 1000, bytes: 1e9, batches: 3 })).toHaveLength(3);
    expect(s.peek({ points: 1000, bytes: 350, batches: 10 })).toHaveLength(3);
    const { body, ...info } = batch(1);
    const first = s.peek(lim(10))[0]!;
    expect(first).toMatchObject({ ...info, id: ids[0] });
    expect(Buffer.isBuffer(first.body) && first.body.toString()).toBe(body); // the stored UTF-8 bytes
    expect(s.totals()).toEqual({ batches: 4, points: 40, bytes: 400, oldestCreatedMs: 1001 });
    s.close();
  });

  it('returns the series cuts as appended', () => {
    const s = make();
    const cuts = Uint32Array.from({ length: 65 }, (_, i) => i * 3);
    s.append({ ...batch(1), cuts });
    s.append(batch(2));
    const [a, b] = s.peek(lim(100));
    expect(a!.cuts).toEqual(cuts);
    expect(b!.cuts).toEqual(batch(2).cuts);
    s.close();
  });

  it('peeks after an id and counts the batches waiting up to an id', () => {
    const s = make();
    const ids = [1, 2, 3, 4].map((n) => s.append(batch(n)));
    expect(s.peek(lim(25), ids[0]).map((b) => b.id)).toEqual([ids[1], ids[2]]);
    expect(s.peek(lim(5), ids[3])).toEqual([]);
    expect(s.waitingUpTo(ids[2]!)).toBe(3);
    expect(s.waitingUpTo(0)).toBe(0);
    s.ack([ids[1]!]);
    expect(s.waitingUpTo(ids[2]!)).toBe(2);
    expect(s.peek(lim(25), ids[0]).map((b) => b.id)).toEqual([ids[2], ids[3]]);
    s.close();
  });

  it('ack deletes; ids are never reused', () => {
    const s = make();
    const a = s.append(batch(1));
    const b = s.append(batch(2));
    s.ack([a, b]);
    expect(s.peek(lim(100))).toEqual([]);
    expect(s.totals()).toEqual({ batches: 0, points: 0, bytes: 0, oldestCreatedMs: undefined });
    expect(s.append(batch(3))).toBeGreaterThan(b);
    s.close();
  });

  it('dead-letters a whole batch or only the refused part', () => {
    const s = make();
    const a = s.append(batch(1));
    const b = s.append(batch(2));
    s.deadLetter(a, 'bad', 5000);
    s.deadLetter(b, 'partial', 6000, { body: 'm v=x 1', points: 1 });
    expect(s.totals().batches).toBe(0);
    // Dead-letter bytes are those of the stored body.
    expect(s.deadLetterTotals()).toEqual({ letters: 2, points: 11, bytes: 14 });
    const [latest, first] = s.deadLetters(10);
    expect(first).toMatchObject({ batchId: a, createdMs: 1001, failedMs: 5000, points: 10, error: 'bad', body: 'm v=1 1' });
    expect(latest).toMatchObject({ batchId: b, points: 1, error: 'partial', body: 'm v=x 1', bytes: 7 });
    s.deadLetter(999, 'gone', 1); // unknown id: nothing happens
    expect(s.deadLetterTotals().letters).toBe(2);
    s.close();
  });

  it('drops the oldest batches above the in-flight id down to maxBytes and reports the time range', () => {
    const s = make();
    const ids = [1, 2, 3, 4, 5].map((n) => s.append(batch(n)));
    expect(s.dropOldest(1000, 0)).toBeUndefined();
    const dropped = s.dropOldest(250, ids[0]!);
    expect(dropped).toEqual({ batches: 3, points: 30, bytes: 300, minTime: 20, maxTime: 49 });
    expect(s.peek(lim(1000)).map((b) => b.id)).toEqual([ids[0], ids[4]]);
    expect(s.totals()).toMatchObject({ batches: 2, bytes: 200, points: 20 });
    s.close();
  });

  it('trims dead letters oldest first', () => {
    const s = make();
    for (let n = 1; n <= 4; n++) s.deadLetter(s.append(batch(n)), `e${n}`, n);
    const bytesEach = s.deadLetterTotals().bytes / 4;
    expect(s.trimDeadLetters(bytesEach * 2)).toBe(2);
    expect(s.deadLetters(10).map((d) => d.error)).toEqual(['e4', 'e3']);
    expect(s.trimDeadLetters(1_000_000)).toBe(0);
    s.close();
  });
});

describe('SqliteOutboxStore specifics', () => {
  /** A file the store must not read: moved aside as unknown, a fresh one in its place. */
  const refusedAsUnknown = (file: string) => {
    const s = new SqliteOutboxStore({ file, sync: 'normal', log: createLogger('silent') });
    expect(s.movedAside).toMatchObject({ database: 'outbox', reason: 'unknown', file });
    expect(existsSync(s.movedAside!.movedTo)).toBe(true);
    expect(s.totals()).toEqual({ batches: 0, points: 0, bytes: 0, oldestCreatedMs: undefined });
    s.append(batch(1));
    expect(s.peek(lim(100))).toHaveLength(1);
    s.close();
  };

  it('moves aside a file of another layout under the same version (a batch table without cuts)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-other-'));
    dirs.push(dir);
    const file = join(dir, 'outbox.db');
    const other = new Database(file);
    other.exec(`
      CREATE TABLE outbox_batches (id INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL, points INTEGER NOT NULL,
        bytes INTEGER NOT NULL, min_time INTEGER NOT NULL, max_time INTEGER NOT NULL, body TEXT NOT NULL);
      INSERT INTO outbox_batches (created_ms, points, bytes, min_time, max_time, body) VALUES (7, 2, 13, 1, 2, 'm v=1 1' || char(10) || 'm v=2 2');
      PRAGMA user_version = 1;
    `);
    other.close();
    refusedAsUnknown(file);
  });

  it('moves aside a file of a newer schema than it knows', () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-v9-'));
    dirs.push(dir);
    const file = join(dir, 'outbox.db');
    const db = new Database(file);
    db.pragma('user_version = 9');
    db.close();
    refusedAsUnknown(file);
  });

  it('keeps batches and totals across reopen, in both sync modes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-reopen-'));
    dirs.push(dir);
    const file = join(dir, 'outbox.db');
    const log = createLogger('silent');
    const a = new SqliteOutboxStore({ file, sync: 'full', log });
    a.append(batch(1));
    a.append(batch(2));
    a.deadLetter(a.append(batch(3)), 'x', 1);
    a.close();
    const b = new SqliteOutboxStore({ file, sync: 'normal', log });
    expect(b.movedAside).toBeUndefined();
    expect(b.totals()).toEqual({ batches: 2, points: 20, bytes: 200, oldestCreatedMs: 1001 });
    expect(b.deadLetterTotals().letters).toBe(1);
    b.close();
  });
});

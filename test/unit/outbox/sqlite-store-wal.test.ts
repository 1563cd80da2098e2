import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { SqliteOutboxStore, WAL_COPY_BYTES } from '../../../gateway/outbox/sqlite-store.js';
import type { NewBatch } from '../../../gateway/outbox/store.js';
import { threadNice } from '../../../gateway/threads/priority.js';

/**
 * outbox.db's WAL is copied into the database file by a worker thread (persist/wal-copier.ts), never inside a
 * commit on the thread that appends: SQLite's automatic checkpoint would run in the commit that crosses 1,000 pages.
 */
describe('SqliteOutboxStore WAL copy', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const BODY = 256 * 1024;
  const batch = (n: number, bytes: number): NewBatch => ({
    createdMs: n,
    points: 1,
    bytes,
    minTime: n,
    maxTime: n,
    body: `m v=${n} ${n}`.padEnd(BODY, ' '),
    cuts: Uint32Array.of(0, BODY),
  });
  const open = (backgroundNice?: number) =>
    new SqliteOutboxStore({
      file: join(dir, 'outbox.db'),
      sync: 'normal',
      log: createLogger('silent'),
      ...(backgroundNice !== undefined ? { backgroundNice } : {}),
    });

  it('leaves the WAL alone on the appending connection, past the 1,000 pages of SQLite automatic checkpoint', () => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-wal-'));
    const store = open();
    try {
      const file = join(dir, 'outbox.db');
      const before = statSync(file).size;
      // 6 MiB of bodies, counted as 1 byte each: the copier is not asked, so only SQLite itself could copy them.
      for (let n = 1; n <= 24; n++) store.append(batch(n, 1));
      expect(statSync(file).size).toBe(before);
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(24 * BODY);
      expect(store.peek({ points: Infinity, bytes: Infinity, batches: 100 }).map((b) => b.createdMs)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
    } finally {
      store.close();
    }
  });

  it('has the worker copy the WAL once WAL_COPY_BYTES are committed, while the event loop is blocked', () => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-wal-'));
    const store = open();
    const file = join(dir, 'outbox.db');
    const n = Math.ceil(WAL_COPY_BYTES / BODY) + 2;
    try {
      for (let i = 1; i <= n; i++) store.append(batch(i, BODY));
      // Never yield: a copy scheduled on this thread's event loop cannot run; the worker's can.
      const until = Date.now() + 20_000;
      while (statSync(file).size < WAL_COPY_BYTES && Date.now() < until);
      expect(statSync(file).size).toBeGreaterThanOrEqual(WAL_COPY_BYTES);
    } finally {
      store.close();
    }
    const again = open();
    try {
      expect(again.totals()).toMatchObject({ batches: n, bytes: n * BODY });
    } finally {
      again.close();
    }
  });

  it.runIf(process.platform === 'linux')('runs the copier thread at the configured nice value, this thread not', async () => {
    dir = mkdtempSync(join(tmpdir(), 'outbox-wal-'));
    const atNice = () => readdirSync('/proc/self/task').filter((t) => threadNice(process.pid, Number(t)) === 14);
    const store = open(14);
    try {
      expect(atNice()).toEqual([]);
      for (let i = 1; i <= Math.ceil(WAL_COPY_BYTES / BODY); i++) store.append(batch(i, BODY));
      for (let i = 0; i < 200 && atNice().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
      expect(atNice()).toHaveLength(1);
      expect(threadNice(process.pid, process.pid)).not.toBe(14);
    } finally {
      store.close();
    }
  });
});

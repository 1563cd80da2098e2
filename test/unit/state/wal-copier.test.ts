import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { SqliteStateStore } from '../../../gateway/state/sqlite-state.js';

/**
 * state.db's WAL is copied into the database file by a worker thread after a save (wal-copier.ts), not on the
 * event loop: the copy completes while this thread is kept busy and never yields.
 */
describe('SqliteStateStore WAL copy', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('moves a saved checkpoint into the database file while the event loop is blocked', () => {
    dir = mkdtempSync(join(tmpdir(), 'wal-copy-'));
    const store = new SqliteStateStore({ dir, sync: 'normal', log: createLogger('silent') });
    try {
      const file = join(dir, 'state.db');
      const before = statSync(file).size;
      const big = Buffer.alloc(4 * 2 ** 20, 7);
      store.save({ pipeline: big, alerts: Buffer.alloc(0), sparkplug: Buffer.alloc(0), savedAt: 1, logPosition: 0 });
      expect(statSync(file).size).toBe(before); // committed to the WAL only (wal_autocheckpoint = 0)
      // Never yield: a copy scheduled on this thread's event loop cannot run; the worker's can.
      const until = Date.now() + 20_000;
      while (statSync(file).size < big.length && Date.now() < until);
      expect(statSync(file).size).toBeGreaterThanOrEqual(big.length);
      expect(Buffer.from(store.load()!.pipeline).equals(big)).toBe(true);
    } finally {
      store.close();
    }
  });
});

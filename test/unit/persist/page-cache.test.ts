import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { openDatabase } from '../../../gateway/persist/sqlite.js';

describe('SQLite page cache of the gateway connections', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('is 2 MiB per connection, not the 16 MB better-sqlite3 builds SQLite with', () => {
    const dir = mkdtempSync(join(tmpdir(), 'page-cache-'));
    dirs.push(dir);
    const { db } = openDatabase({
      file: join(dir, 'x.db'),
      format: { name: 'test', userVersion: 1 },
      migrations: ['CREATE TABLE t (x)'],
      sync: 'normal',
      log: createLogger('silent'),
    });
    try {
      expect(db.pragma('cache_size', { simple: true })).toBe(-2048);
    } finally {
      db.close();
    }
  });
});

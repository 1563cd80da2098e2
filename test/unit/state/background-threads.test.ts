import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { SqliteStateStore } from '../../../gateway/state/sqlite-state.js';
import { threadNice } from '../../../gateway/threads/priority.js';

/**
 * The state store's background threads, the checkpoint writer and the WAL copier, run at
 * runtime.backgroundThreadNice (threads/priority.ts): read back from /proc/<pid>/task/<tid>/stat.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const threadsAt = (nice: number) => readdirSync('/proc/self/task').filter((t) => threadNice(process.pid, Number(t)) === nice);

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
}

function storeIn(backgroundNice?: number): SqliteStateStore {
  const dir = mkdtempSync(join(tmpdir(), 'bg-threads-'));
  dirs.push(dir);
  return new SqliteStateStore({ dir, sync: 'normal', log: createLogger('silent'), ...(backgroundNice !== undefined ? { backgroundNice } : {}) });
}

const save = (store: SqliteStateStore) =>
  store.save({ pipeline: Buffer.alloc(1024, 1), alerts: Buffer.alloc(0), sparkplug: Buffer.alloc(0), savedAt: 1, logPosition: 0 });

describe.runIf(process.platform === 'linux')('state store background threads', () => {
  it('the checkpoint writer and the WAL copier run at the configured nice value, this thread does not', async () => {
    const store = storeIn(13);
    try {
      expect(threadsAt(13)).toEqual([]);
      store.prestart(); // the checkpoint writer
      await until(() => threadsAt(13).length === 1);
      expect(threadsAt(13)).toHaveLength(1);
      save(store); // a synchronous save asks the WAL copier for a copy: its thread starts
      await until(() => threadsAt(13).length === 2);
      expect(threadsAt(13)).toHaveLength(2);
      expect(threadNice(process.pid, process.pid)).not.toBe(13);
      expect(store.load()?.savedAt).toBe(1);
    } finally {
      store.close();
    }
  });

  it('leaves them at the process value with 0', async () => {
    const before = readdirSync('/proc/self/task').length;
    const store = storeIn(0);
    try {
      store.prestart();
      save(store);
      await until(() => readdirSync('/proc/self/task').length >= before + 2);
      await new Promise((r) => setTimeout(r, 200));
      const main = threadNice(process.pid, process.pid)!;
      expect(readdirSync('/proc/self/task').filter((t) => threadNice(process.pid, Number(t)) !== main)).toEqual([]);
    } finally {
      store.close();
    }
  });
});

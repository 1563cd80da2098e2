import { chmodSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';

/** Mode bits of group and others: none of them on the data folder or its files. */
const GROUP_OTHER = 0o077;

/**
 * Makes the data folder owner-only: the folder 0700, every file in it (state.db, outbox.db, their -wal/-shm, the
 * lock, moved-aside corrupt copies) without group/other bits, i.e. 0600 for the database files. The files hold
 * every reading not yet in InfluxDB and the pipeline's state; nothing else on the machine needs to read them.
 * New files are created owner-only (gateway/outbox/db.ts, lock.ts); this tightens what an older version or
 * another tool left, and logs it once per start. A chmod that fails (a file of another user) is logged, not fatal.
 *
 * Runs only while holding the folder's lock: a second start that finds the folder held changes nothing in it.
 */
export function tightenDataDir(dir: string, log: Logger): void {
  const tightened: string[] = [];
  const failed: string[] = [];
  const tighten = (path: string, name: string) => {
    let mode: number;
    try {
      mode = statSync(path).mode & 0o7777;
    } catch {
      return; // gone meanwhile (a -shm of a file just closed)
    }
    if ((mode & GROUP_OTHER) === 0) return;
    try {
      chmodSync(path, mode & ~GROUP_OTHER);
      tightened.push(`${name} ${(mode & 0o777).toString(8)} -> ${(mode & ~GROUP_OTHER & 0o777).toString(8)}`);
    } catch (err) {
      failed.push(`${name}: ${(err as Error).message}`);
    }
  };
  tighten(dir, '.');
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile()) tighten(join(dir, entry.name), entry.name);
  }
  if (tightened.length > 0) log.warn({ dir, tightened }, 'data folder was readable by others: made it and its files owner-only');
  if (failed.length > 0) log.error({ dir, failed }, 'could not make the data folder owner-only');
}

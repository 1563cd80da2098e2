import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

/** The lock itself: an empty SQLite file on which the holder keeps an exclusive transaction open. */
export const LOCK_FILE = 'gateway.lock';
/** Who holds the lock (JSON: pid, host, startedAt), written by the holder, read by a start that finds it held. */
export const HOLDER_FILE = 'gateway.lock.json';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO 8601. */
  readonly startedAt: string;
}

/** The data folder is held by another process. main.ts exits with code 2 and this message. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  constructor(
    readonly dir: string,
    readonly holder: LockHolder | undefined,
  ) {
    const who = holder ? `gateway process ${holder.pid} on ${holder.host} (started ${holder.startedAt})` : 'another process (it left no pid)';
    super(
      `the data folder ${dir} (buffer.dir) is in use by ${who}; stop that process first, or give this gateway another buffer.dir. Nothing in the folder was read or changed`,
    );
  }
}

export interface DataDirLock {
  readonly dir: string;
  /** Ends the transaction and closes the file: the lock is free. Idempotent. */
  release(): void;
}

const BUSY = /^SQLITE_(BUSY|LOCKED)/;

function readHolder(dir: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(join(dir, HOLDER_FILE), 'utf8')) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.startedAt === 'string') return { pid: h.pid, host: h.host, startedAt: h.startedAt };
  } catch {
    // missing or half-written: the holder is unknown, the folder is held all the same
  }
  return undefined;
}

/**
 * Takes the exclusive lock on the gateway's data folder (which must exist), or throws DataDirLockedError naming
 * the holder without having changed anything in the folder.
 *
 * Node has no flock(2); SQLite's unix VFS takes POSIX advisory locks (fcntl F_SETLK) on its files. The holder
 * opens `gateway.lock` and runs `BEGIN EXCLUSIVE` without ever committing: SQLite then holds the EXCLUSIVE lock
 * (https://www.sqlite.org/lockingv3.html) until the connection closes. The kernel releases POSIX locks when the
 * process dies, however it dies (SIGKILL, OOM, power loss), so a lock is never stale. A second process asking
 * with busy timeout 0 gets SQLITE_BUSY at once; so does a second connection in the same process (SQLite keeps
 * per-inode lock state across its connections). No page is ever written and the journal is in memory, so the file
 * stays empty and no other file appears.
 *
 * Caveat of POSIX locks: closing *any* descriptor of the file in the holding process drops its locks. Nothing
 * but this module opens `gateway.lock`, and it creates the file before SQLite opens it.
 */
export function lockDataDir(dir: string, opts: { now?: () => number } = {}): DataDirLock {
  const file = join(dir, LOCK_FILE);
  try {
    closeSync(openSync(file, 'wx', 0o600)); // owner-only from the start; SQLite would create it 0644
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const db = new Database(file, { timeout: 0 });
  try {
    // No rollback journal file: nothing is ever written, and a journal file would outlive a SIGKILL.
    db.pragma('journal_mode = MEMORY'); // OFF is not honoured by this build (it answers `delete`)
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && BUSY.test(code)) throw new DataDirLockedError(dir, readHolder(dir));
    // Not a lock held by someone (e.g. the file is not empty and not a database): say which file, keep the cause.
    throw new Error(`cannot lock the data folder: ${file}: ${(err as Error).message}`, { cause: err });
  }
  const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date((opts.now ?? Date.now)()).toISOString() };
  const holderFile = join(dir, HOLDER_FILE);
  const tmp = `${holderFile}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
  renameSync(tmp, holderFile); // a start that finds the folder held reads a whole file or none
  let held = true;
  return {
    dir,
    release() {
      if (!held) return;
      held = false;
      try {
        unlinkSync(holderFile);
      } catch {
        // already gone: nothing to tidy
      }
      db.close(); // rolls the empty transaction back: the lock is free
    },
  };
}

import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log.js';

export type SqliteDatabase = Database.Database;
export type SyncMode = 'normal' | 'full';

/**
 * Opens one of the gateway's SQLite files (outbox today; ingest log and checkpoint store later) the same way:
 * WAL journal, `durability.sync` as PRAGMA synchronous, a quick integrity check, then the caller's schema.
 *
 * A file that is corrupt or not a database is renamed aside (`<file>.corrupt-<timestamp>`, with its -wal and
 * -shm) and a fresh one is created, logged at error level: a gateway that crash-loops on a damaged file
 * forwards nothing, while the moved file stays available for forensics. Errors that a rename would not fix
 * (permissions, disk full, the file locked by another process) are thrown.
 */
export interface OpenDatabaseOptions {
  readonly file: string;
  readonly sync: SyncMode;
  readonly log: Logger;
  /** Creates or upgrades the schema (idempotent). A corruption error thrown here also moves the file aside. */
  readonly migrate: (db: SqliteDatabase) => void;
  /** `quick` (default) reads every page once at start; `none` skips it for very large files. */
  readonly integrityCheck?: 'quick' | 'none';
  readonly now?: () => number;
}

export interface OpenedDatabase {
  readonly db: SqliteDatabase;
  /** Where a damaged file was moved, when it was. */
  readonly movedAside?: string;
}

const CORRUPTION = /^SQLITE_(CORRUPT|NOTADB)/;

export class DatabaseCorruptError extends Error {
  override readonly name = 'DatabaseCorruptError';
}

export function isCorruption(err: unknown): boolean {
  if (err instanceof DatabaseCorruptError) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && CORRUPTION.test(code);
}

function openOnce(opts: OpenDatabaseOptions): SqliteDatabase {
  const db = new Database(opts.file);
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`SQLite refused WAL mode (got ${String(mode)})`);
    db.pragma(`synchronous = ${opts.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    // Big rows come and go; without a limit the -wal file keeps its peak size after each checkpoint.
    db.pragma('journal_size_limit = 67108864');
    if ((opts.integrityCheck ?? 'quick') === 'quick') {
      const rows = db.pragma('quick_check', { simple: false }) as { quick_check: string }[];
      const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
      if (problems.length > 0) throw new DatabaseCorruptError(`quick_check: ${problems.slice(0, 5).join('; ')}`);
    }
    opts.migrate(db);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function moveAside(file: string, at: number): string {
  const stamp = new Date(at).toISOString().replace(/[:.]/g, '-');
  const target = `${file}.corrupt-${stamp}`;
  renameSync(file, target);
  for (const ext of ['-wal', '-shm', '-journal']) {
    if (existsSync(file + ext)) renameSync(file + ext, target + ext);
  }
  return target;
}

export function openDatabase(opts: OpenDatabaseOptions): OpenedDatabase {
  mkdirSync(dirname(opts.file), { recursive: true });
  try {
    return { db: openOnce(opts) };
  } catch (err) {
    if (!isCorruption(err) || !existsSync(opts.file)) throw err;
    const movedAside = moveAside(opts.file, (opts.now ?? Date.now)());
    opts.log.error(
      { file: opts.file, movedAside, err: (err as Error).message },
      'SQLite file is corrupt or not a database: moved it aside and started a fresh one; its unsent data is NOT forwarded',
    );
    return { db: openOnce(opts), movedAside };
  }
}

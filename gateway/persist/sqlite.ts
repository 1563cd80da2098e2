import { closeSync, existsSync, mkdirSync, openSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../log.js';
import type { DatabaseFormat } from './formats.js';
import { GatewayError } from '../errors.js';

export type SqliteDatabase = Database.Database;
export type SyncMode = 'normal' | 'full';

/** Why a file was moved aside: damaged (SQLITE_CORRUPT, SQLITE_NOTADB, quick_check), or of a format this gateway does not know. */
export type MoveReason = 'corrupt' | 'unknown';

/** A file that openDatabase moved aside and replaced with a fresh one: its unsent data is not forwarded. */
export interface MovedAside {
  /** The format's name (formats.ts): `outbox`, `state`. */
  readonly database: string;
  readonly file: string;
  readonly movedTo: string;
  readonly reason: MoveReason;
  readonly detail: string;
  /** When (gateway clock, epoch ms). */
  readonly at: number;
}

/**
 * Opens one of the gateway's SQLite files the same way: WAL journal, `durability.sync` as PRAGMA synchronous, a
 * quick integrity check, then the schema of `format` (formats.ts) by its migrations.
 *
 * The schema version is PRAGMA user_version (SQLite docs, "PRAGMA user_version"): 0 with no table is a new file,
 * which the migrations bring to `format.userVersion`; `migrations[i]` takes a file from version i to i + 1, so
 * there are exactly `format.userVersion` of them. A file that is corrupt or not a database, or whose version is
 * not one this gateway knows (a table but version 0, a newer version), is renamed aside
 * (`<file>.corrupt-<timestamp>` or `<file>.unknown-<timestamp>`, with its -wal and -shm), a fresh one is created,
 * and `onMovedAside` is told (the composition root counts it and shows it in /health): a gateway that crash-loops
 * on a damaged file forwards nothing, while the moved file stays available for forensics. Errors that a rename
 * would not fix (permissions, disk full, the file locked by another process) are thrown.
 */
export interface OpenDatabaseOptions {
  readonly file: string;
  readonly format: DatabaseFormat;
  readonly migrations: readonly string[];
  readonly sync: SyncMode;
  readonly log: Logger;
  /** `quick` (default) reads every page once at start; `none` skips it for very large files. */
  readonly integrityCheck?: 'quick' | 'none';
  readonly now?: () => number;
  readonly onMovedAside?: (moved: MovedAside) => void;
}

export interface OpenedDatabase {
  readonly db: SqliteDatabase;
  /** Set when the file found was moved aside. */
  readonly movedAside?: MovedAside;
}

const CORRUPTION = /^SQLITE_(CORRUPT|NOTADB)/;

/**
 * The page cache of every connection the gateway opens (this module, the checkpoint writer's and the WAL copier's
 * threads): 2 MiB, SQLite's own default ("PRAGMA cache_size": a negative value is KiB). better-sqlite3 builds
 * SQLite with SQLITE_DEFAULT_CACHE_SIZE=-16000 (its docs/compilation.md), 16 MB per connection, which the
 * checkpoint writer filled at every checkpoint of 100k sensors (its thread's malloc arena: ~14 MiB). Our
 * connections append (ingest log, outbox, checkpoint rows by key) and read back in order (replay, drain, restore):
 * what they need cached is the B-trees' interior pages, which 2 MiB holds (BENCHMARKS.md, memory at the default
 * horizons).
 */
export const PAGE_CACHE_PRAGMA = 'cache_size = -2048';

/** A file that is not what it should be; `reason` says whether it is damaged or of an unknown format. */
export class DatabaseFileError extends GatewayError {
  override readonly name = 'DatabaseFileError';
  override readonly code = 'GATEWAY_DATABASE_FILE';
  constructor(
    message: string,
    readonly reason: MoveReason,
  ) {
    super('GATEWAY_DATABASE_FILE', message);
  }
}

function reasonOf(err: unknown): MoveReason | undefined {
  if (err instanceof DatabaseFileError) return err.reason;
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && CORRUPTION.test(code) ? 'corrupt' : undefined;
}

/** The schema as SQLite keeps it (tables and indices with their CREATE statements), to compare two files. */
function schemaOf(db: SqliteDatabase): string {
  return JSON.stringify(db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all());
}

/** What the migrations make of an empty file: the one schema a file of this version may have. */
const expected = new Map<DatabaseFormat, string>();
function expectedSchema(format: DatabaseFormat, migrations: readonly string[]): string {
  let schema = expected.get(format);
  if (schema === undefined) {
    const db = new Database(':memory:');
    for (const m of migrations) db.exec(m);
    expected.set(format, (schema = schemaOf(db)));
    db.close();
  }
  return schema;
}

function migrate(db: SqliteDatabase, format: DatabaseFormat, migrations: readonly string[]): void {
  if (migrations.length !== format.userVersion) throw new Error(`${format.name}: ${migrations.length} migrations for version ${format.userVersion}`);
  const version = db.pragma('user_version', { simple: true }) as number;
  const tables = (db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number }).n;
  if (version > format.userVersion || (version === 0 && tables > 0)) {
    throw new DatabaseFileError(
      `${format.name} database version ${version} (with ${tables} tables) is not one this gateway knows (${format.userVersion})`,
      'unknown',
    );
  }
  if (version < format.userVersion) {
    db.transaction(() => {
      for (let v = version; v < format.userVersion; v++) db.exec(migrations[v]!);
      db.pragma(`user_version = ${format.userVersion}`);
    })();
  }
  // A file that claims this version but holds other tables (written by a build of another layout) is not ours.
  if (schemaOf(db) !== expectedSchema(format, migrations))
    throw new DatabaseFileError(`${format.name} database version ${version} has another schema`, 'unknown');
}

function openOnce(opts: OpenDatabaseOptions): SqliteDatabase {
  // Owner-only (0600): SQLite would create the file 0644, and gives its -wal and -shm the database file's mode.
  if (!existsSync(opts.file)) closeSync(openSync(opts.file, 'a', 0o600));
  const db = new Database(opts.file);
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') throw new Error(`SQLite refused WAL mode (got ${String(mode)})`);
    db.pragma(`synchronous = ${opts.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('busy_timeout = 5000');
    db.pragma(PAGE_CACHE_PRAGMA);
    // Big rows come and go; without a limit the -wal file keeps its peak size after each checkpoint.
    db.pragma('journal_size_limit = 67108864');
    if ((opts.integrityCheck ?? 'quick') === 'quick') {
      const rows = db.pragma('quick_check', { simple: false }) as { quick_check: string }[];
      const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
      if (problems.length > 0) throw new DatabaseFileError(`quick_check: ${problems.slice(0, 5).join('; ')}`, 'corrupt');
    }
    migrate(db, opts.format, opts.migrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function moveAside(file: string, reason: MoveReason, at: number): string {
  const stamp = new Date(at).toISOString().replace(/[:.]/g, '-');
  const target = `${file}.${reason}-${stamp}`;
  renameSync(file, target);
  for (const ext of ['-wal', '-shm', '-journal']) {
    if (existsSync(file + ext)) renameSync(file + ext, target + ext);
  }
  return target;
}

export function openDatabase(opts: OpenDatabaseOptions): OpenedDatabase {
  mkdirSync(dirname(opts.file), { recursive: true, mode: 0o700 });
  try {
    return { db: openOnce(opts) };
  } catch (err) {
    const reason = reasonOf(err);
    if (reason === undefined || !existsSync(opts.file)) throw err;
    const at = (opts.now ?? Date.now)();
    const movedTo = moveAside(opts.file, reason, at);
    const movedAside: MovedAside = { database: opts.format.name, file: opts.file, movedTo, reason, detail: (err as Error).message, at };
    opts.log.error(
      { file: opts.file, movedAside: movedTo, reason, err: movedAside.detail },
      `SQLite file is ${reason === 'corrupt' ? 'corrupt or not a database' : 'of an unknown format'}: moved it aside and started a fresh one; its unsent data is NOT forwarded`,
    );
    opts.onMovedAside?.(movedAside);
    return { db: openOnce(opts), movedAside };
  }
}

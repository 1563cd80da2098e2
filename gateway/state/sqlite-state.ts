import { join } from 'node:path';
import type { Statement } from 'better-sqlite3';
import type { Logger } from '../log.js';
import { FORMATS } from '../persist/formats.js';
import { openDatabase, type MovedAside, type SqliteDatabase, type SyncMode } from '../persist/sqlite.js';
import { packRows } from '../persist/rows.js';
import { backgroundThread } from '../threads/priority.js';
import type { Checkpoint, CheckpointDelta, CheckpointStore } from './checkpoint-store.js';
import { CheckpointWriter, DELTA_SQL, type LogTotalsRow } from './checkpoint-writer.js';
import { WalCopier } from '../persist/wal-copier.js';
import { recordBytes, type IngestLog, type IngestLogTotals, type IngestRecord, type LoggedRecord } from './ingest-log.js';

export const STATE_FILE = 'state.db';

const PAGE = 1000;
/**
 * Rows per INSERT statement of an append: one statement step per 32 records instead of one per record costs
 * ~30 % less CPU per logged publish (better-sqlite3's per-call overhead; 1000-record groups, 0.94 -> 0.65 us
 * a record). The rest of a group goes row by row.
 */
const ROWS = 32;

interface Totals {
  entries: number;
  bytes: number;
  oldestReceivedAt: number | undefined;
  lastPosition: number;
}

/**
 * FORMATS.stateDatabase, version 1: the checkpoint and the ingest log. `checkpoint` is one row: each part's bytes
 * in its BLOB column (a whole checkpoint, rows = 0), or for an incremental one (rows = 1) the parts' heads, the
 * pipeline's and the alerts' state being their rows in `checkpoint_row` (part 0 pipeline, 1 alerts; one row per
 * device, persist/rows.ts).
 */
const MIGRATIONS = [
  `CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), saved_at INTEGER NOT NULL, log_position INTEGER NOT NULL, pipeline BLOB NOT NULL, alerts BLOB NOT NULL, sparkplug BLOB NOT NULL, rows INTEGER NOT NULL DEFAULT 0);
   CREATE TABLE checkpoint_row (part INTEGER NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, PRIMARY KEY (part, key)) WITHOUT ROWID;
   CREATE TABLE ingest_log (position INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL);`,
];

/**
 * `{buffer.dir}/state.db`: the checkpoint and the ingest log in one SQLite file, so that saving a checkpoint
 * and truncating the log it covers is one transaction. Opened like the outbox (WAL, `durability.sync`, a
 * corrupt or unknown file moved aside). With sync=normal a commit survives a process crash (the WAL is in the OS page
 * cache); with sync=full it is fsynced and survives power loss.
 *
 * Positions are assigned here, not by SQLite's rowid: a rowid restarts at 1 when the table is emptied, which
 * would make new entries look older than the checkpoint.
 */
export class SqliteStateStore implements CheckpointStore, IngestLog {
  private readonly db: SqliteDatabase;
  private readonly t: Totals;
  private readonly insert: Statement;
  private readonly insertRows: Statement;
  /** The bound values of one insertRows step, reused (cleared after each append so no payload stays referenced). */
  private readonly rowArgs: unknown[] = new Array<unknown>(4 * ROWS).fill(0);
  private readonly appendTx: (records: readonly IngestRecord[], from: number) => { last: number; bytes: number };
  private readonly page: Statement;
  private readonly saveTx: (cp: Checkpoint) => void;
  /** Moves the WAL into the database file on a worker thread after each save. */
  private readonly wal: WalCopier;
  /** Writes incremental checkpoints on a thread of its own (checkpoint-writer.ts). */
  private readonly writer: CheckpointWriter;
  /** Called once the write in flight finished (the journal's held appends). */
  private idleWaiters: (() => void)[] = [];

  /** Set when the file found was moved aside (persist/sqlite.ts). */
  readonly movedAside: MovedAside | undefined;

  /**
   * `backgroundNice`: the nice value of the checkpoint writer's and the WAL copier's threads
   * (runtime.backgroundThreadNice; 0 or absent: as the process).
   */
  constructor(opts: { dir: string; sync: SyncMode; log: Logger; file?: string; onMovedAside?: (moved: MovedAside) => void; backgroundNice?: number }) {
    const file = opts.file ?? join(opts.dir, STATE_FILE);
    const opened = openDatabase({
      file,
      format: FORMATS.stateDatabase,
      migrations: MIGRATIONS,
      sync: opts.sync,
      log: opts.log,
      ...(opts.onMovedAside ? { onMovedAside: opts.onMovedAside } : {}),
    });
    this.db = opened.db;
    this.movedAside = opened.movedAside;
    // A checkpoint row is megabytes: SQLite's automatic WAL checkpoint would copy them into the database inside
    // the save's commit, doubling that pause for every publish waiting. save() has a worker thread do it instead.
    const nice = opts.backgroundNice ?? 0;
    this.wal = new WalCopier(
      this.db,
      'state-wal',
      (err) => opts.log.warn({ err }, 'state.db WAL copy failed: retried after the next checkpoint'),
      backgroundThread('state-wal', nice, opts.log),
    );
    this.writer = new CheckpointWriter(file, opts.sync === 'full' ? 'FULL' : 'NORMAL', backgroundThread('state-checkpoint', nice, opts.log));
    const row = this.db
      .prepare(
        'SELECT COUNT(*) AS n, COALESCE(SUM(length(CAST(topic AS BLOB)) + length(payload)), 0) AS bytes, MIN(received_at) AS oldest, MAX(position) AS last FROM ingest_log',
      )
      .get() as { n: number; bytes: number; oldest: number | null; last: number | null };
    const cp = this.db.prepare('SELECT log_position FROM checkpoint WHERE id = 1').get() as { log_position: number } | undefined;
    this.t = {
      entries: row.n,
      bytes: row.bytes,
      oldestReceivedAt: row.oldest ?? undefined,
      lastPosition: Math.max(row.last ?? 0, cp?.log_position ?? 0),
    };
    this.insert = this.db.prepare('INSERT INTO ingest_log (position, received_at, topic, payload) VALUES (?, ?, ?, ?)');
    this.insertRows = this.db.prepare(
      `INSERT INTO ingest_log (position, received_at, topic, payload) VALUES ${new Array(ROWS).fill('(?, ?, ?, ?)').join(', ')}`,
    );
    this.appendTx = this.db.transaction((records: readonly IngestRecord[], from: number) => this.insertAll(records, from));
    this.page = this.db.prepare('SELECT position, received_at, topic, payload FROM ingest_log WHERE position > ? ORDER BY position LIMIT ?');
    const upsert = this.db.prepare(
      'INSERT INTO checkpoint (id, saved_at, log_position, pipeline, alerts, sparkplug) VALUES (1, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT(id) DO UPDATE SET saved_at = excluded.saved_at, log_position = excluded.log_position, pipeline = excluded.pipeline, alerts = excluded.alerts, ' +
        'sparkplug = excluded.sparkplug',
    );
    const truncate = this.db.prepare(DELTA_SQL.truncateLog);
    const clearRows = this.db.prepare('DELETE FROM checkpoint_row');
    // The parts go to their BLOB columns as they are: no copy on the V8 heap. A whole checkpoint replaces the rows.
    this.saveTx = this.db.transaction((cp: Checkpoint) => {
      upsert.run(cp.savedAt, cp.logPosition, cp.pipeline, cp.alerts, cp.sparkplug);
      clearRows.run();
      truncate.run(cp.logPosition);
    });
  }

  append(records: readonly IngestRecord[]): number {
    if (records.length === 0) return this.t.lastPosition;
    // The journal holds its appends while a checkpoint is written (busy); anyone else waits for the write here.
    this.writer.wait();
    let done: { last: number; bytes: number };
    try {
      done = this.appendTx(records, this.t.lastPosition);
    } finally {
      this.rowArgs.fill(0);
    }
    // Only after the commit: a failed transaction leaves the totals (and the next position) unchanged.
    if (this.t.entries === 0) this.t.oldestReceivedAt = records[0]!.receivedAt;
    this.t.entries += records.length;
    this.t.bytes += done.bytes;
    this.t.lastPosition = done.last;
    return done.last;
  }

  /** Inside appendTx: the records at positions from + 1, from + 2, ..., ROWS to a statement while that many are left. */
  private insertAll(records: readonly IngestRecord[], from: number): { last: number; bytes: number } {
    const n = records.length;
    const args = this.rowArgs;
    let pos = from;
    let bytes = 0;
    let i = 0;
    for (; i + ROWS <= n; i += ROWS) {
      for (let j = 0; j < ROWS; j++) {
        const r = records[i + j]!;
        const k = 4 * j;
        args[k] = ++pos;
        args[k + 1] = r.receivedAt;
        args[k + 2] = r.topic;
        args[k + 3] = r.payload;
        bytes += recordBytes(r);
      }
      this.insertRows.run(args);
    }
    for (; i < n; i++) {
      const r = records[i]!;
      this.insert.run(++pos, r.receivedAt, r.topic, r.payload);
      bytes += recordBytes(r);
    }
    return { last: pos, bytes };
  }

  *after(position: number): Iterable<LoggedRecord> {
    let from = position;
    for (;;) {
      const rows = this.page.all(from, PAGE) as { position: number; received_at: number; topic: string; payload: Buffer }[];
      for (const r of rows) yield { position: r.position, receivedAt: r.received_at, topic: r.topic, payload: r.payload };
      if (rows.length < PAGE) return;
      from = rows[rows.length - 1]!.position;
    }
  }

  totals(): IngestLogTotals {
    return { ...this.t };
  }

  /** A checkpoint is being written on the writer thread: an append now would wait for it (the journal holds). */
  busy(): boolean {
    return this.writer.busy();
  }

  /** Runs `f` once no checkpoint write is in flight (at once when none is). */
  whenIdle(f: () => void): void {
    if (!this.writer.busy()) return f();
    this.idleWaiters.push(f);
  }

  load(): Checkpoint | undefined {
    this.writer.wait();
    const row = this.db.prepare('SELECT saved_at, log_position, pipeline, alerts, sparkplug, rows FROM checkpoint WHERE id = 1').get() as
      { saved_at: number; log_position: number; pipeline: Buffer; alerts: Buffer; sparkplug: Buffer; rows: number } | undefined;
    if (!row) return undefined;
    const cp = { pipeline: row.pipeline, alerts: row.alerts, sparkplug: row.sparkplug, savedAt: row.saved_at, logPosition: row.log_position };
    if (row.rows === 0) return cp;
    const part = (p: number) => this.db.prepare('SELECT value FROM checkpoint_row WHERE part = ?').pluck().all(p) as Buffer[];
    return { ...cp, pipeline: packRows(row.pipeline, part(0)), alerts: packRows(row.alerts, part(1)), rows: true };
  }

  save(cp: Checkpoint): void {
    this.writer.wait();
    if (cp.logPosition > this.t.lastPosition) throw new RangeError(`checkpoint position ${cp.logPosition} is beyond the log (${this.t.lastPosition})`);
    this.saveTx(cp);
    // The remainder is small (what arrived after the position): recount it rather than track deletions.
    this.saved(this.db.prepare(DELTA_SQL.logTotals).get() as LogTotalsRow);
    // The WAL keeps the commit durable meanwhile; this only moves it into the database file and bounds the WAL.
    this.wal.request();
  }

  /** A delta, written by the writer thread and waited for (the graceful stop, after a replay). */
  saveDelta(cp: CheckpointDelta): void {
    let failed: Error | null = null;
    this.saveDeltaAsync(cp, (err) => (failed = err));
    this.writer.wait();
    if (failed !== null) throw failed;
  }

  saveDeltaAsync(cp: CheckpointDelta, done: (err: Error | null) => void): void {
    this.writer.wait();
    if (cp.logPosition > this.t.lastPosition) throw new RangeError(`checkpoint position ${cp.logPosition} is beyond the log (${this.t.lastPosition})`);
    this.writer.write(cp, (err, totals) => {
      if (totals !== undefined) this.saved(totals);
      try {
        done(err);
      } finally {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
    });
  }

  settle(): void {
    this.writer.wait();
  }

  prestart(): void {
    this.writer.prestart();
  }

  /** The log after a checkpoint: what arrived after its position (small: recounted rather than tracked). */
  private saved(row: LogTotalsRow): void {
    this.t.entries = row.n;
    this.t.bytes = row.bytes;
    this.t.oldestReceivedAt = row.oldest ?? undefined;
  }

  /** Resolves once the WAL copies asked for by the saves so far are done. */
  walCopied(): Promise<void> {
    return this.wal.idle();
  }

  close(): void {
    this.writer.close();
    this.wal.close();
    if (this.db.open) this.db.close();
  }
}

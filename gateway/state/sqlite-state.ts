import { join } from 'node:path';
import type { Statement } from 'better-sqlite3';
import type { Logger } from '../log.js';
import { openDatabase, type SqliteDatabase, type SyncMode } from '../persist/sqlite.js';
import type { Checkpoint, CheckpointStore } from './checkpoint-store.js';
import { recordBytes, type IngestLog, type IngestLogTotals, type IngestRecord, type LoggedRecord } from './ingest-log.js';

export const STATE_FILE = 'state.db';

const PAGE = 1000;

interface Totals {
  entries: number;
  bytes: number;
  oldestReceivedAt: number | undefined;
  lastPosition: number;
}

/**
 * `{buffer.dir}/state.db`: the checkpoint (pipeline and alert snapshots as bytes in the `pipeline` and `alerts`
 * columns; `body` holds the JSON of either part when it is not a Buffer) and the ingest log in one SQLite file, so
 * that saving a checkpoint
 * and truncating the log it covers is one transaction. Opened like the outbox (WAL, `durability.sync`, a
 * corrupt file moved aside). With sync=normal a commit survives a process crash (the WAL is in the OS page
 * cache); with sync=full it is fsynced and survives power loss.
 *
 * Positions are assigned here, not by SQLite's rowid: a rowid restarts at 1 when the table is emptied, which
 * would make new entries look older than the checkpoint.
 */
export class SqliteStateStore implements CheckpointStore, IngestLog {
  private readonly db: SqliteDatabase;
  private readonly t: Totals;
  private readonly insert: Statement;
  private readonly page: Statement;
  private readonly saveTx: (cp: Checkpoint, row: CheckpointRow) => void;
  private walPending = false;

  constructor(opts: { dir: string; sync: SyncMode; log: Logger; file?: string }) {
    this.db = openDatabase({ file: opts.file ?? join(opts.dir, STATE_FILE), sync: opts.sync, log: opts.log, migrate }).db;
    // A checkpoint row is megabytes: SQLite's automatic WAL checkpoint would copy them into the database inside
    // the save's commit, doubling that pause for every publish waiting. save() runs it on a later turn instead.
    this.db.pragma('wal_autocheckpoint = 0');
    const row = this.db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(length(CAST(topic AS BLOB)) + length(payload)), 0) AS bytes, MIN(received_at) AS oldest, MAX(position) AS last FROM ingest_log')
      .get() as { n: number; bytes: number; oldest: number | null; last: number | null };
    const cp = this.db.prepare('SELECT log_position FROM checkpoint WHERE id = 1').get() as { log_position: number } | undefined;
    this.t = {
      entries: row.n,
      bytes: row.bytes,
      oldestReceivedAt: row.oldest ?? undefined,
      lastPosition: Math.max(row.last ?? 0, cp?.log_position ?? 0),
    };
    this.insert = this.db.prepare('INSERT INTO ingest_log (position, received_at, topic, payload) VALUES (?, ?, ?, ?)');
    this.page = this.db.prepare('SELECT position, received_at, topic, payload FROM ingest_log WHERE position > ? ORDER BY position LIMIT ?');
    const upsert = this.db.prepare(
      'INSERT INTO checkpoint (id, saved_at, log_position, body, pipeline, alerts) VALUES (1, ?, ?, ?, ?, ?) ' +
        'ON CONFLICT(id) DO UPDATE SET saved_at = excluded.saved_at, log_position = excluded.log_position, body = excluded.body, ' +
        'pipeline = excluded.pipeline, alerts = excluded.alerts',
    );
    const truncate = this.db.prepare('DELETE FROM ingest_log WHERE position <= ?');
    this.saveTx = this.db.transaction((cp: Checkpoint, row: CheckpointRow) => {
      upsert.run(cp.savedAt, cp.logPosition, row.body, row.pipeline, row.alerts);
      truncate.run(cp.logPosition);
    });
  }

  append(records: readonly IngestRecord[]): number {
    if (records.length === 0) return this.t.lastPosition;
    let pos = this.t.lastPosition;
    let bytes = 0;
    this.db.transaction(() => {
      for (const r of records) {
        this.insert.run(++pos, r.receivedAt, r.topic, r.payload);
        bytes += recordBytes(r);
      }
    })();
    // Only after the commit: a failed transaction leaves the totals (and the next position) unchanged.
    if (this.t.entries === 0) this.t.oldestReceivedAt = records[0]!.receivedAt;
    this.t.entries += records.length;
    this.t.bytes += bytes;
    this.t.lastPosition = pos;
    return pos;
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

  load(): Checkpoint | undefined {
    const row = this.db.prepare('SELECT saved_at, log_position, body, pipeline, alerts FROM checkpoint WHERE id = 1').get() as
      | { saved_at: number; log_position: number; body: string; pipeline: Buffer | null; alerts: Buffer | null }
      | undefined;
    if (!row) return undefined;
    const body = JSON.parse(row.body) as { pipeline?: unknown; alerts?: unknown };
    // A checkpoint written before a column existed has that part's (JSON) snapshot in the body.
    return { pipeline: row.pipeline ?? body.pipeline, alerts: row.alerts ?? body.alerts, savedAt: row.saved_at, logPosition: row.log_position };
  }

  save(cp: Checkpoint): void {
    if (cp.logPosition > this.t.lastPosition) throw new RangeError(`checkpoint position ${cp.logPosition} is beyond the log (${this.t.lastPosition})`);
    this.saveTx(cp, encodeCheckpoint(cp.pipeline, cp.alerts));
    // The remainder is small (what arrived after the position): recount it rather than track deletions.
    const row = this.db
      .prepare('SELECT COUNT(*) AS n, COALESCE(SUM(length(CAST(topic AS BLOB)) + length(payload)), 0) AS bytes, MIN(received_at) AS oldest FROM ingest_log')
      .get() as { n: number; bytes: number; oldest: number | null };
    this.t.entries = row.n;
    this.t.bytes = row.bytes;
    this.t.oldestReceivedAt = row.oldest ?? undefined;
    if (!this.walPending) {
      this.walPending = true;
      setImmediate(() => {
        this.walPending = false;
        // The WAL keeps the commit durable meanwhile; this only moves it into the database file and bounds the WAL.
        if (this.db.open) this.db.pragma('wal_checkpoint(PASSIVE)');
      });
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * The checkpoint row's columns: `pipeline` and `alerts` the bytes of a binary snapshot, `body` JSON text holding
 * the parts that are not (`{}` when both are).
 */
export interface CheckpointRow {
  readonly body: string;
  readonly pipeline: Uint8Array | null;
  readonly alerts: Uint8Array | null;
}

/**
 * A binary snapshot goes to its BLOB column as is (no copy on the V8 heap); a part that is a JSON value goes into
 * the body as JSON text.
 */
export function encodeCheckpoint(pipeline: unknown, alerts: unknown): CheckpointRow {
  const p = pipeline instanceof Uint8Array ? pipeline : null;
  const a = alerts instanceof Uint8Array ? alerts : null;
  const body = JSON.stringify({ ...(p === null ? { pipeline } : {}), ...(a === null ? { alerts } : {}) });
  return { body, pipeline: p, alerts: a };
}

function migrate(db: SqliteDatabase): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), saved_at INTEGER NOT NULL, body TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS ingest_log (position INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL);
  `);
  // state.db files written before the ingest log existed hold a checkpoint without a position: it covers no entry.
  const cols = db.prepare('PRAGMA table_info(checkpoint)').all() as { name: string }[];
  if (!cols.some((c) => c.name === 'log_position')) db.exec('ALTER TABLE checkpoint ADD COLUMN log_position INTEGER NOT NULL DEFAULT 0');
  // Before pipeline snapshot version 3 the pipeline snapshot was JSON inside `body`; load() still reads that.
  if (!cols.some((c) => c.name === 'pipeline')) db.exec('ALTER TABLE checkpoint ADD COLUMN pipeline BLOB');
  // Before alert snapshot version 2 the alert snapshot was JSON inside `body`; load() still reads that.
  if (!cols.some((c) => c.name === 'alerts')) db.exec('ALTER TABLE checkpoint ADD COLUMN alerts BLOB');
}

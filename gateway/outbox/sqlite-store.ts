import type { Statement } from 'better-sqlite3';
import type { Logger } from '../log.js';
import { FORMATS } from '../persist/formats.js';
import { openDatabase, type MovedAside, type SqliteDatabase, type SyncMode } from '../persist/sqlite.js';
import { WalCopier } from '../persist/wal-copier.js';
import { backgroundThread } from '../threads/priority.js';
import type { DeadLetter, DeadLetterTotals, DroppedBatches, NewBatch, OutboxStore, OutboxTotals, PeekLimit, RefusedPart, StoredBatch } from './store.js';

/**
 * FORMATS.outboxDatabase, version 1: batches and dead letters. The body comes last but one in each row so
 * totals and drop scans read only the row's first page; `cuts` (where each series bucket starts in the body,
 * lanes.ts) sits after it, read by `peek` only.
 */
const MIGRATIONS = [
  `CREATE TABLE outbox_batches (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     created_ms INTEGER NOT NULL,
     points INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     min_time INTEGER NOT NULL,
     max_time INTEGER NOT NULL,
     body TEXT NOT NULL,
     cuts BLOB NOT NULL
   );
   CREATE TABLE outbox_dead_letters (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     batch_id INTEGER NOT NULL,
     created_ms INTEGER NOT NULL,
     failed_ms INTEGER NOT NULL,
     points INTEGER NOT NULL,
     bytes INTEGER NOT NULL,
     error TEXT NOT NULL,
     body TEXT NOT NULL
   );`,
];

/** Uint32 offsets as a little-endian BLOB and back (a copy: a Buffer read from SQLite need not be 4-aligned). */
function cutsBlob(cuts: Uint32Array): Buffer {
  const blob = Buffer.allocUnsafe(cuts.length * 4);
  for (let i = 0; i < cuts.length; i++) blob.writeUInt32LE(cuts[i]!, i * 4);
  return blob;
}
/** A damaged BLOB reads as no cuts; the drain then groups the body again (lanes.ts validCuts). */
function cutsOf(blob: Buffer): Uint32Array {
  const out = new Uint32Array(blob.length % 4 === 0 ? blob.length / 4 : 0);
  for (let i = 0; i < out.length; i++) out[i] = blob.readUInt32LE(i * 4);
  return out;
}

interface BatchRow {
  id: number;
  created_ms: number;
  points: number;
  bytes: number;
  min_time: number;
  max_time: number;
  body: Buffer;
  cuts: Buffer;
}

const toBatch = (r: BatchRow): StoredBatch => ({
  id: r.id,
  createdMs: r.created_ms,
  points: r.points,
  bytes: r.bytes,
  minTime: r.min_time,
  maxTime: r.max_time,
  body: r.body,
  cuts: cutsOf(r.cuts),
});

export interface SqliteOutboxStoreOptions {
  readonly file: string;
  readonly sync: SyncMode;
  readonly log: Logger;
  readonly integrityCheck?: 'quick' | 'none';
  readonly now?: () => number;
  readonly onMovedAside?: (moved: MovedAside) => void;
  /** The nice value of the WAL copier's thread (runtime.backgroundThreadNice; 0 or absent: as the process). */
  readonly backgroundNice?: number;
}

/**
 * The WAL bytes committed after which the WAL copier is asked to move them into the database file: SQLite's own
 * automatic checkpoint comes every 1,000 pages (https://www.sqlite.org/pragma.html#pragma_wal_autocheckpoint), 4 MiB
 * at its default page size.
 */
export const WAL_COPY_BYTES = 4 * 2 ** 20;
const PAGE_BYTES = 4096;

/**
 * The outbox in `{buffer.dir}/outbox.db`. Waiting totals are kept in memory (read once at open) so the hot
 * path never runs an aggregate query; every mutation is one short transaction.
 *
 * Its WAL is copied into the database file by a worker thread (persist/wal-copier.ts), every `WAL_COPY_BYTES`
 * committed. SQLite's automatic checkpoint would do it inside the commit that crosses 1,000 pages, on the gateway
 * thread: up to ~14 ms on an idle disk, ~50 ms while InfluxDB writes to the same one (BENCHMARKS.md, "outbox.db's
 * WAL copied off the event loop").
 */
export class SqliteOutboxStore implements OutboxStore {
  readonly movedAside: MovedAside | undefined;
  private readonly db: SqliteDatabase;
  private readonly wal: WalCopier;
  /** WAL bytes committed since the copier was last asked (an estimate: bodies, a page per row written or deleted). */
  private walBytes = 0;
  private count = 0;
  private points = 0;
  private bytes = 0;
  private readonly stmt: {
    insert: Statement<[number, number, number, number, number, string, Buffer]>;
    peek: Statement<[number, number]>;
    waitingUpTo: Statement<[number]>;
    delete: Statement<[number]>;
    sizes: Statement<[number]>;
    get: Statement<[number]>;
    oldest: Statement<[]>;
    dropScan: Statement<[number]>;
    insertDead: Statement<[number, number, number, number, number, string, string]>;
    deadScan: Statement<[]>;
    deleteDead: Statement<[number]>;
    deadTotals: Statement<[]>;
    deadList: Statement<[number]>;
  };

  constructor(opts: SqliteOutboxStoreOptions) {
    const opened = openDatabase({ ...opts, format: FORMATS.outboxDatabase, migrations: MIGRATIONS });
    this.db = opened.db;
    this.movedAside = opened.movedAside;
    this.wal = new WalCopier(
      this.db,
      'outbox-wal',
      (err) => opts.log.warn({ err }, 'outbox.db WAL copy failed: retried after the next commits'),
      backgroundThread('outbox-wal', opts.backgroundNice ?? 0, opts.log),
    );
    const p = <A extends unknown[]>(sql: string) => this.db.prepare<A>(sql);
    this.stmt = {
      insert: p('INSERT INTO outbox_batches (created_ms, points, bytes, min_time, max_time, body, cuts) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      // The body as a BLOB: its UTF-8 bytes as stored, no decoding into a JS string (see StoredBatch).
      peek: p(
        'SELECT id, created_ms, points, bytes, min_time, max_time, CAST(body AS BLOB) AS body, cuts FROM outbox_batches WHERE id > ? ORDER BY id LIMIT ?',
      ),
      waitingUpTo: p('SELECT count(*) AS n FROM outbox_batches WHERE id <= ?'),
      delete: p('DELETE FROM outbox_batches WHERE id = ?'),
      // ack reads only what the totals need: reading each ~1 MB body back cost as much as the peek.
      sizes: p('SELECT points, bytes FROM outbox_batches WHERE id = ?'),
      get: p('SELECT created_ms, points, bytes, body FROM outbox_batches WHERE id = ?'),
      oldest: p('SELECT created_ms FROM outbox_batches ORDER BY id LIMIT 1'),
      dropScan: p('SELECT id, points, bytes, min_time, max_time FROM outbox_batches WHERE id > ? ORDER BY id'),
      insertDead: p('INSERT INTO outbox_dead_letters (batch_id, created_ms, failed_ms, points, bytes, error, body) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      deadScan: p('SELECT id, bytes FROM outbox_dead_letters ORDER BY id'),
      deleteDead: p('DELETE FROM outbox_dead_letters WHERE id = ?'),
      deadTotals: p('SELECT count(*) AS letters, coalesce(sum(points), 0) AS points, coalesce(sum(bytes), 0) AS bytes FROM outbox_dead_letters'),
      deadList: p('SELECT * FROM outbox_dead_letters ORDER BY id DESC LIMIT ?'),
    };
    const t = this.db.prepare('SELECT count(*) AS n, coalesce(sum(points), 0) AS points, coalesce(sum(bytes), 0) AS bytes FROM outbox_batches').get() as {
      n: number;
      points: number;
      bytes: number;
    };
    this.count = t.n;
    this.points = t.points;
    this.bytes = t.bytes;
  }

  append(b: NewBatch): number {
    const r = this.stmt.insert.run(b.createdMs, b.points, b.bytes, b.minTime, b.maxTime, b.body, cutsBlob(b.cuts));
    this.count++;
    this.points += b.points;
    this.bytes += b.bytes;
    this.committed(b.bytes + PAGE_BYTES);
    return Number(r.lastInsertRowid);
  }

  /** Counts WAL bytes just committed; past `WAL_COPY_BYTES`, asks the copier (it coalesces while one runs). */
  private committed(bytes: number): void {
    this.walBytes += bytes;
    if (this.walBytes < WAL_COPY_BYTES) return;
    this.walBytes = 0;
    this.wal.request();
  }

  peek(limit: PeekLimit, afterId = 0): StoredBatch[] {
    const out: StoredBatch[] = [];
    let pts = 0;
    let bytes = 0;
    for (const row of this.stmt.peek.iterate(afterId, limit.batches) as IterableIterator<BatchRow>) {
      if (out.length > 0 && (pts + row.points > limit.points || bytes + row.bytes > limit.bytes)) break;
      out.push(toBatch(row));
      pts += row.points;
      bytes += row.bytes;
    }
    return out;
  }

  waitingUpTo(id: number): number {
    return (this.stmt.waitingUpTo.get(id) as { n: number }).n;
  }

  ack(ids: readonly number[]): void {
    this.db.transaction(() => {
      for (const id of ids) {
        const row = this.stmt.sizes.get(id) as { points: number; bytes: number } | undefined;
        if (row) this.remove(id, row);
      }
    })();
    this.committed(ids.length * PAGE_BYTES);
  }

  /** Deletes one batch (known to exist) and adjusts the totals. */
  private remove(id: number, row: { points: number; bytes: number }): void {
    this.stmt.delete.run(id);
    this.count--;
    this.points -= row.points;
    this.bytes -= row.bytes;
  }

  deadLetter(id: number, error: string, failedMs: number, refused?: RefusedPart): void {
    this.db.transaction(() => {
      const b = this.stmt.get.get(id) as { created_ms: number; points: number; bytes: number; body: string } | undefined;
      if (!b) return;
      this.remove(id, b);
      const body = refused?.body ?? b.body;
      const points = refused?.points ?? b.points;
      this.stmt.insertDead.run(id, b.created_ms, failedMs, points, Buffer.byteLength(body), error, body);
      this.committed(Buffer.byteLength(body) + 2 * PAGE_BYTES);
    })();
  }

  dropOldest(maxBytes: number, afterId: number): DroppedBatches | undefined {
    if (this.bytes <= maxBytes) return undefined;
    return this.db.transaction(() => {
      let batches = 0;
      let points = 0;
      let bytes = 0;
      let minTime = Infinity;
      let maxTime = -Infinity;
      const ids: number[] = [];
      for (const r of this.stmt.dropScan.iterate(afterId) as IterableIterator<BatchRow>) {
        if (this.bytes - bytes <= maxBytes) break;
        ids.push(r.id);
        batches++;
        points += r.points;
        bytes += r.bytes;
        minTime = Math.min(minTime, r.min_time);
        maxTime = Math.max(maxTime, r.max_time);
      }
      for (const id of ids) this.stmt.delete.run(id);
      this.committed(ids.length * PAGE_BYTES);
      this.count -= batches;
      this.points -= points;
      this.bytes -= bytes;
      return batches > 0 ? { batches, points, bytes, minTime, maxTime } : undefined;
    })();
  }

  trimDeadLetters(maxBytes: number): number {
    const t = this.deadLetterTotals();
    if (t.bytes <= maxBytes) return 0;
    return this.db.transaction(() => {
      let total = t.bytes;
      const ids: number[] = [];
      for (const r of this.stmt.deadScan.iterate() as IterableIterator<{ id: number; bytes: number }>) {
        if (total <= maxBytes) break;
        ids.push(r.id);
        total -= r.bytes;
      }
      for (const id of ids) this.stmt.deleteDead.run(id);
      this.committed(ids.length * PAGE_BYTES);
      return ids.length;
    })();
  }

  totals(): OutboxTotals {
    const oldest = this.count > 0 ? (this.stmt.oldest.get() as { created_ms: number } | undefined) : undefined;
    return { batches: this.count, points: this.points, bytes: this.bytes, oldestCreatedMs: oldest?.created_ms };
  }

  deadLetterTotals(): DeadLetterTotals {
    return this.stmt.deadTotals.get() as DeadLetterTotals;
  }

  deadLetters(limit: number): DeadLetter[] {
    return (this.stmt.deadList.all(limit) as Record<string, unknown>[]).map((r) => ({
      id: r.id as number,
      batchId: r.batch_id as number,
      createdMs: r.created_ms as number,
      failedMs: r.failed_ms as number,
      points: r.points as number,
      bytes: r.bytes as number,
      error: r.error as string,
      body: r.body as string,
    }));
  }

  close(): void {
    this.wal.close();
    if (this.db.open) this.db.close();
  }
}

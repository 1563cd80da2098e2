import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { rowBuffers } from '../persist/row-buffers.js';
import { PAGE_CACHE_PRAGMA } from '../persist/sqlite.js';
import type { RowBatch } from '../persist/rows.js';
import { THREAD_ID_EXPRESSION } from '../threads/priority.js';
import type { CheckpointDelta } from './checkpoint-store.js';

/**
 * The statements of an incremental checkpoint (FORMATS.stateDatabase: tables `checkpoint` and
 * `checkpoint_row`), shared by the gateway thread's synchronous save and the writer thread below. Part 0: the
 * pipeline, part 1: the alerts.
 */
export const DELTA_SQL = {
  clearPart: 'DELETE FROM checkpoint_row WHERE part = ?',
  upsertRow: 'INSERT INTO checkpoint_row (part, key, value) VALUES (?, ?, ?) ON CONFLICT(part, key) DO UPDATE SET value = excluded.value',
  deleteRow: 'DELETE FROM checkpoint_row WHERE part = ? AND key = ?',
  upsertCheckpoint:
    'INSERT INTO checkpoint (id, saved_at, log_position, pipeline, alerts, sparkplug, rows) VALUES (1, ?, ?, ?, ?, ?, 1) ' +
    'ON CONFLICT(id) DO UPDATE SET saved_at = excluded.saved_at, log_position = excluded.log_position, pipeline = excluded.pipeline, ' +
    'alerts = excluded.alerts, sparkplug = excluded.sparkplug, rows = 1',
  truncateLog: 'DELETE FROM ingest_log WHERE position <= ?',
  logTotals: 'SELECT COUNT(*) AS n, COALESCE(SUM(length(CAST(topic AS BLOB)) + length(payload)), 0) AS bytes, MIN(received_at) AS oldest FROM ingest_log',
} as const;

export interface LogTotalsRow {
  n: number;
  bytes: number;
  oldest: number | null;
}

/** A delta as it crosses to the writer: the row buffers are shared or transferred, not copied. */
interface Job {
  seq: number;
  position: number;
  savedAt: number;
  pipelineHead: Uint8Array;
  sparkplug: Uint8Array;
  parts: { full: boolean; buf: Uint8Array; index: Int32Array; rows: number }[];
}

/**
 * The writer thread's source (CommonJS, eval'd: see start()). A job is applied in ONE transaction: a crash leaves
 * either the previous checkpoint with its rows and its log, or this one with the shorter log. Part 0: the
 * pipeline, part 1: the alerts; a row with an empty value is deleted; the key is a ByteWriter.str
 * (persist/rows.ts readKey).
 */
const WORKER_SOURCE = `
  const Database = require(workerData.sqlite);
  const db = new Database(workerData.file, { fileMustExist: true });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = ' + workerData.sync);
  db.pragma('busy_timeout = 5000');
  db.pragma(workerData.cachePragma);
  db.pragma('wal_autocheckpoint = 0');
  const sql = workerData.sql;
  const st = {};
  for (const k of Object.keys(sql)) st[k] = db.prepare(sql[k]);
  const key = (buf, at) => {
    let h = 0, mul = 1, p = at;
    for (;;) { const b = buf[p++]; h += (b & 127) * mul; if (b < 128) break; mul *= 128; }
    const utf16 = h % 2 === 1;
    const n = utf16 ? (h - 1) / 2 : h / 2;
    return Buffer.from(buf.buffer, buf.byteOffset + p, n).toString(utf16 ? 'utf16le' : 'utf8');
  };
  const bytes = (u) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  const apply = db.transaction((job) => {
    job.parts.forEach((part, p) => {
      if (part.full) st.clearPart.run(p);
      const buf = bytes(part.buf), ix = part.index;
      for (let i = 0; i < part.rows; i++) {
        const k = key(buf, ix[3 * i]);
        if (ix[3 * i + 1] === ix[3 * i + 2]) st.deleteRow.run(p, k);
        else st.upsertRow.run(p, k, buf.subarray(ix[3 * i + 1], ix[3 * i + 2]));
      }
    });
    st.upsertCheckpoint.run(job.savedAt, job.position, bytes(job.pipelineHead), Buffer.alloc(0), bytes(job.sparkplug));
    st.truncateLog.run(job.position);
    return st.logTotals.get();
  });
  const status = new Int32Array(workerData.status);
  const totals = new Float64Array(workerData.totals);
  // This thread's kernel id, for its owner to lower its scheduling priority (threads/priority.ts).
  parentPort.postMessage({ tid: ${THREAD_ID_EXPRESSION} });
  parentPort.on('message', (job) => {
    let error = null;
    try {
      const t = apply(job);
      totals[0] = t.n; totals[1] = t.bytes; totals[2] = t.oldest === null ? NaN : t.oldest;
      Atomics.store(status, 1, 1);
    } catch (err) {
      error = String((err && err.message) || err);
      Atomics.store(status, 1, 2);
    }
    // From here on the gateway thread may write its next capture into the shared row buffers: not read again.
    Atomics.store(status, 0, job.seq);
    Atomics.notify(status, 0);
    parentPort.postMessage({ seq: job.seq, error });
    // Moves the WAL into the database file and bounds it (as wal-copier.ts); the ingest log goes on meanwhile.
    if (error === null) try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
  });`;

const toPart = (full: boolean, b: RowBatch) => ({ full, buf: b.buf, index: b.index, rows: b.rows });

/** The job of a delta. */
export function jobOf(seq: number, d: CheckpointDelta): Job {
  return {
    seq,
    position: d.logPosition,
    savedAt: d.savedAt,
    pipelineHead: d.pipelineHead,
    sparkplug: d.sparkplug,
    parts: [toPart(d.pipelineFull, d.pipelineRows), toPart(d.alertsFull, d.alertRows)],
  };
}

/**
 * The checkpoint writer: a worker thread with a better-sqlite3 connection of its own that applies a delta in one
 * transaction, then copies the WAL into the database (PRAGMA wal_checkpoint(PASSIVE), as wal-copier.ts), so that
 * neither the write nor the copy holds the gateway's event loop. The synchronous save (graceful stop, after a
 * replay) is the same job, waited for: one implementation of the write. SQLite allows one writer at a time
 * (https://www.sqlite.org/wal.html, "Concurrency"): while a job runs the store reports `busy()` and the journal
 * holds its appends (their PUBACKs wait; QoS 0 and alerts do not). The result comes back twice: a message for the
 * event loop, and in shared memory with Atomics.notify so that `wait()` can block for it (the graceful stop's
 * final checkpoint must know whether the last delta committed before it writes the next).
 */
export class CheckpointWriter {
  private worker: Worker | undefined;
  /** [0]: seq of the last finished job, [1]: 1 ok / 2 failed. */
  private readonly status = new Int32Array(new SharedArrayBuffer(8));
  /** The ingest log's totals after the last finished job: entries, bytes, oldest (NaN: none). */
  private readonly totals = new Float64Array(new SharedArrayBuffer(24));
  private seq = 0;
  private inflight: { seq: number; bufs: readonly Uint8Array[]; done: (err: Error | null, totals: LogTotalsRow | undefined) => void } | undefined;
  private lastError = '';

  /**
   * `sync`: PRAGMA synchronous of the writer's connection, the store's (durability.sync). `onThread`: called on
   * this thread with the writer thread's kernel id (undefined off Linux) once it runs, to set its priority.
   */
  constructor(
    private readonly file: string,
    private readonly sync: 'NORMAL' | 'FULL',
    private readonly onThread?: (tid: number | undefined) => void,
  ) {}

  busy(): boolean {
    return this.inflight !== undefined;
  }

  /**
   * Starts the thread now rather than at the first write: its bootstrap (a Node environment, better-sqlite3, the
   * statements; ~170 ms of CPU) then lands at start-up, not in the middle of the load of the first checkpoint.
   */
  prestart(): void {
    this.start();
  }

  /** Whether the thread is running (prestart or a write started it). */
  get started(): boolean {
    return this.worker !== undefined;
  }

  write(d: CheckpointDelta, done: (err: Error | null, totals: LogTotalsRow | undefined) => void): void {
    if (this.inflight !== undefined) throw new Error('a checkpoint write is already in flight');
    const job = jobOf(++this.seq, d);
    this.inflight = { seq: job.seq, bufs: job.parts.map((p) => p.buf), done };
    // A big row buffer is shared memory, read in place (persist/row-buffers.ts); the rest is transferred.
    const transfer = job.parts.flatMap((p) => [p.buf.buffer, p.index.buffer]).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
    try {
      this.start().postMessage(job, [...new Set(transfer)]);
    } catch (err) {
      this.inflight = undefined;
      throw err;
    }
  }

  /** Blocks until the job in flight (if any) finished, and runs its `done`. */
  wait(): void {
    const f = this.inflight;
    if (f === undefined) return;
    while (Atomics.load(this.status, 0) !== f.seq) Atomics.wait(this.status, 0, Atomics.load(this.status, 0), 1000);
    this.finish(f.seq);
  }

  close(): void {
    this.wait();
    void this.worker?.terminate();
    this.worker = undefined;
    rowBuffers.clear();
  }

  private finish(seq: number): void {
    const f = this.inflight;
    if (f === undefined || f.seq !== seq) return; // already finished by wait()
    this.inflight = undefined;
    // The writer is done with the shared row buffers (or gone): the next capture writes into them.
    for (const b of f.bufs) rowBuffers.give(b);
    if (Atomics.load(this.status, 1) !== 1) return f.done(new Error(`checkpoint write failed: ${this.lastError || 'see the log'}`), undefined);
    const t = this.totals;
    f.done(null, { n: t[0]!, bytes: t[1]!, oldest: Number.isNaN(t[2]!) ? null : t[2]! });
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    // An eval'd worker is CommonJS and resolves modules from the process's cwd: hand it the resolved path.
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    const w = new Worker(`const { parentPort, workerData } = require('node:worker_threads');\n${WORKER_SOURCE}`, {
      eval: true,
      workerData: {
        sqlite,
        file: this.file,
        sync: this.sync,
        sql: DELTA_SQL,
        status: this.status.buffer,
        totals: this.totals.buffer,
        cachePragma: PAGE_CACHE_PRAGMA,
      },
      name: 'state-checkpoint',
    });
    w.unref();
    w.on('message', (m: { seq: number; error: string | null } | { tid: number | undefined }) => {
      if ('tid' in m) return this.onThread?.(m.tid);
      if (m.error !== null) this.lastError = m.error;
      this.finish(m.seq);
    });
    w.on('error', (err: Error) => {
      this.lastError = err.message;
      this.worker = undefined;
      Atomics.store(this.status, 1, 2);
      const f = this.inflight;
      if (f !== undefined) {
        Atomics.store(this.status, 0, f.seq);
        this.finish(f.seq);
      }
    });
    this.worker = w;
    return w;
  }
}

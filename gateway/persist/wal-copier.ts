import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { PAGE_CACHE_PRAGMA, type SqliteDatabase } from './sqlite.js';
import { THREAD_ID_EXPRESSION } from '../threads/priority.js';

/**
 * Copies a SQLite database's WAL into the database file off the event loop: a worker thread with a connection of
 * its own runs `PRAGMA wal_checkpoint(PASSIVE)` when asked. In WAL mode a checkpoint may run on any connection
 * while others read and write (https://www.sqlite.org/wal.html#checkpointing; PASSIVE "checkpoint as many frames
 * as possible without waiting for any database readers or writers to finish"), so the gateway thread's
 * connection goes on logging QoS 1 publishes meanwhile. A checkpoint row is megabytes; copying it on the gateway
 * thread held every publish for ~1.5 ms per MiB (BENCHMARKS.md, checkpoint pause). It takes the copies over from
 * the connection it is given (state.db's, outbox.db's): it sets `wal_autocheckpoint = 0` there, since SQLite's
 * automatic checkpoint would otherwise run inside the commit that crosses 1,000 pages, fsyncs included, on the
 * thread that commits.
 *
 * The worker is created on the first request and never keeps the process alive. Requests while a copy runs are
 * coalesced into one more copy after it. Failures (busy, I/O) are reported to `onError` and retried with the next
 * request: the WAL keeps every commit durable meanwhile; a copy only bounds its size.
 */
export class WalCopier {
  private worker: Worker | undefined;
  private running = false;
  private again = false;
  private closed = false;
  private waiters: (() => void)[] = [];

  private readonly file: string;

  /**
   * `db`: the connection whose WAL this copies (its file is the one the worker opens). `name`: the thread's name
   * (`state-wal`, `outbox-wal`). `onThread`: called with the copier thread's kernel id (undefined off Linux) once it
   * runs, to set its priority.
   */
  constructor(
    db: SqliteDatabase,
    private readonly name: string,
    private readonly onError: (err: Error) => void,
    private readonly onThread?: (tid: number | undefined) => void,
  ) {
    db.pragma('wal_autocheckpoint = 0');
    this.file = db.name;
  }

  request(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.start().postMessage('copy');
  }

  /** Resolves once no copy is running or asked for (tests; a stop that wants the WAL small). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.settle();
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private settle(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private start(): Worker {
    if (this.worker !== undefined) return this.worker;
    // An eval'd worker is CommonJS and resolves modules from the process's cwd: hand it the resolved path.
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    const w = new Worker(
      `const Database = require(${JSON.stringify(sqlite)});
       const { parentPort, workerData } = require('node:worker_threads');
       const db = new Database(workerData.file, { fileMustExist: true });
       db.pragma('busy_timeout = 5000');
       db.pragma(workerData.cachePragma);
       parentPort.postMessage({ tid: ${THREAD_ID_EXPRESSION} });
       parentPort.on('message', () => {
         try {
           db.pragma('wal_checkpoint(PASSIVE)');
           parentPort.postMessage(null);
         } catch (err) {
           parentPort.postMessage(String(err && err.message || err));
         }
       });`,
      { eval: true, workerData: { file: this.file, cachePragma: PAGE_CACHE_PRAGMA }, name: this.name },
    );
    w.unref();
    w.on('message', (m: string | null | { tid: number | undefined }) => {
      if (m !== null && typeof m === 'object') return this.onThread?.(m.tid);
      if (m !== null) this.onError(new Error(`WAL copy failed: ${m}`));
      this.running = false;
      if (this.again && !this.closed) {
        this.again = false;
        this.request();
      } else this.settle();
    });
    w.on('error', (err: Error) => {
      this.onError(err);
      this.running = false;
      this.worker = undefined;
      this.settle();
    });
    this.worker = w;
    return w;
  }
}

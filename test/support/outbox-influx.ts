import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Outbox, type OutboxOptions } from '../../gateway/outbox/outbox.js';
import { SqliteOutboxStore } from '../../gateway/outbox/sqlite-store.js';
import { InfluxWriter } from '../../gateway/sink/influx-writer.js';
import { startInfluxd, type InfluxServer } from './influxd.js';
import { harness, type Harness } from './outbox-harness.js';

export interface BuildOptions {
  readonly batchSize?: number;
  readonly flushIntervalMs?: number;
  readonly maxBytes?: number;
  readonly maxRequestPoints?: number;
  readonly backoff?: OutboxOptions['backoff'];
  /** Write to this database (default: a new one per build). */
  readonly database?: string;
  readonly sync?: 'normal' | 'full';
}

/**
 * The setup of the outbox integration suites: one real influxd per file (started before its tests, disposed
 * after them, restarted after a test that stopped it), a harness per test (temp folder, metrics, logger; made on
 * first use, removed after the test), and `build()`: an Outbox over a real SQLite file in that folder, writing to
 * a database of its own. The last Outbox built is closed after each test.
 */
export function outboxSuite(dbPrefix: string) {
  let influx: InfluxServer | undefined;
  let h: Harness | undefined;
  let last: Outbox | undefined;
  let databases = 0;

  beforeAll(async () => {
    influx = await startInfluxd();
  });
  afterAll(async () => {
    await influx?.dispose();
  });
  afterEach(async () => {
    await last?.close();
    last = undefined;
    if (influx !== undefined && !influx.running) await influx.start();
    h?.cleanup();
    h = undefined;
  });

  const suite = {
    get influx(): InfluxServer {
      if (influx === undefined) throw new Error('influxd is not started yet (use the suite inside tests)');
      return influx;
    },
    get h(): Harness {
      return (h ??= harness());
    },
    build(opts: BuildOptions = {}) {
      const { h: hx, influx: server } = suite;
      const database = opts.database ?? `${dbPrefix}_${++databases}`;
      const store = new SqliteOutboxStore({ file: join(hx.dir, 'outbox.db'), sync: opts.sync ?? 'normal', log: hx.log });
      const writer = new InfluxWriter({ url: server.url, database, timeoutMs: 5000 });
      const outbox = new Outbox({
        store,
        writer,
        metrics: hx.metrics,
        log: hx.log,
        batchSize: opts.batchSize ?? 100,
        flushIntervalMs: opts.flushIntervalMs ?? 50,
        maxBytes: opts.maxBytes ?? 64 * 1024 * 1024,
        ...(opts.backoff ? { backoff: opts.backoff } : {}),
        ...(opts.maxRequestPoints ? { maxRequestPoints: opts.maxRequestPoints } : {}),
      });
      last = outbox;
      return { outbox, database, store };
    },
    /** The `seq` fields stored in `database`, ascending. */
    async seqs(database: string): Promise<number[]> {
      const rows = await suite.influx.rows('SELECT seq FROM telemetry', database);
      return rows.map((r) => r.seq as number).sort((a, b) => a - b);
    },
  };
  return suite;
}

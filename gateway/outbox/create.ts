import { join } from 'node:path';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { InfluxWriter, type BatchWriter } from '../sink/influx-writer.js';
import { Outbox } from './outbox.js';
import { SqliteOutboxStore } from './sqlite-store.js';
import type { MovedAside } from '../persist/sqlite.js';
import type { Timers } from '../time/timers.js';

export interface CreateOutboxDeps {
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly timers?: Timers;
  /** Defaults to an InfluxWriter built from `config.influx`. */
  readonly writer?: BatchWriter;
  /** Told when outbox.db was moved aside (persist/sqlite.ts). */
  readonly onMovedAside?: (moved: MovedAside) => void;
}

export const OUTBOX_FILE = 'outbox.db';

/**
 * Builds the outbox from the gateway config: `{buffer.dir}/outbox.db` with `durability.sync`, batches of
 * `influx.batchSize` / `influx.flushInterval`, bounded by `buffer.maxBytes`. Opens the file (moving a corrupt
 * or unknown one aside) but sends nothing until `outbox.start()`.
 */
export function createOutbox(config: GatewayConfig, deps: CreateOutboxDeps): { outbox: Outbox; store: SqliteOutboxStore; writer: BatchWriter } {
  const log = deps.log.child({ part: 'outbox' });
  const store = new SqliteOutboxStore({
    file: join(config.buffer.dir, OUTBOX_FILE),
    sync: config.durability.sync,
    log,
    backgroundNice: config.runtime.backgroundThreadNice,
    ...(deps.timers ? { now: deps.timers.now } : {}),
    ...(deps.onMovedAside ? { onMovedAside: deps.onMovedAside } : {}),
  });
  const writer =
    deps.writer ??
    new InfluxWriter({
      api: config.influx.api,
      url: config.influx.url,
      database: config.influx.database,
      retentionPolicy: config.influx.retentionPolicy,
      org: config.influx.org,
      bucket: config.influx.bucket,
      username: config.influx.username,
      password: config.influx.password,
      token: config.influx.token,
      timeoutMs: config.influx.timeout,
    });
  const outbox = new Outbox({
    store,
    writer,
    metrics: deps.metrics,
    log,
    batchSize: config.influx.batchSize,
    flushIntervalMs: config.influx.flushInterval,
    writeLanes: config.influx.writeLanes,
    maxBytes: config.buffer.maxBytes,
    ...(deps.timers ? { timers: deps.timers } : {}),
  });
  return { outbox, store, writer };
}

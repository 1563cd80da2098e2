/**
 * Scenario 4: the outbox on its own (the same code the gateway runs, in the bench process): commit throughput
 * (line protocol + SQLite commit) and drain throughput of a backlog into the real local influxd, i.e. what
 * catching up after an InfluxDB outage costs. test/bench/outbox-micro.ts has more variants (sync=full, request
 * sizes, a raw HTTP ceiling).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../gateway/log.js';
import { createMetrics } from '../../gateway/metrics.js';
import { Outbox } from '../../gateway/outbox/outbox.js';
import { SqliteOutboxStore } from '../../gateway/outbox/sqlite-store.js';
import { InfluxWriter, type BatchWriter } from '../../gateway/sink/influx-writer.js';
import { windowToPoint, type OutPoint } from '../../gateway/sink/point.js';
import type { InfluxServer } from '../support/influxd.js';

export interface OutboxFigures {
  readonly backlog: number;
  readonly commitPointsPerSec: number;
  readonly drainPointsPerSec: number;
}

const log = createLogger('silent');
const T0 = Date.UTC(2024, 0, 1);
const BATCH = 5000;
const idle: BatchWriter = { write: async () => {}, ping: async () => true };

/** Window aggregates of 1000 sensors over 10 s windows: the shape the pipeline emits (also outbox-micro.ts). */
export function benchPoints(n: number, offset = 0, gatewayId = 'bench'): OutPoint[] {
  const out: OutPoint[] = [];
  for (let i = 0; i < n; i++) {
    const k = i + offset;
    const v = (k % 997) / 7;
    const w = {
      device: `dev-${k % 100}`,
      sensor: `s${k % 10}`,
      start: T0 + Math.floor(k / 1000) * 10_000,
      mean: v,
      min: v - 1,
      max: v + 1,
      first: v,
      last: v,
      count: 10,
      revision: 0,
    };
    out.push(windowToPoint(w, 'telemetry', gatewayId));
  }
  return out;
}

/** influx.writeLanes of the drain (the gateway's default is 2; BENCH_DRAIN_LANES=1 for one request at a time). */
export async function runOutbox(influx: InfluxServer, backlog: number, lanes = Number(process.env.BENCH_DRAIN_LANES ?? 2)): Promise<OutboxFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-outbox-'));
  try {
    const file = join(dir, 'outbox.db');
    // Commit: the backlog an outage leaves behind, appended with no drainer running.
    const store = new SqliteOutboxStore({ file, sync: 'normal', log });
    const filler = new Outbox({ store, writer: idle, metrics: createMetrics(), log, batchSize: BATCH, flushIntervalMs: 60_000, maxBytes: 8 * 1024 ** 3 });
    const chunks = Array.from({ length: backlog / 1000 }, (_, i) => benchPoints(1000, i * 1000));
    const t0 = performance.now();
    for (const c of chunks) filler.append(c);
    filler.flush();
    const commitSecs = (performance.now() - t0) / 1000;
    await filler.close();
    console.log(`  outbox: committed ${backlog} points in ${commitSecs.toFixed(1)} s`);

    const writer = new InfluxWriter({ url: influx.url, database: 'bench_drain', timeoutMs: 30_000 });
    await writer.ensureDatabase();
    const drainer = new Outbox({
      store: new SqliteOutboxStore({ file, sync: 'normal', log }),
      writer,
      metrics: createMetrics(),
      log,
      batchSize: BATCH,
      flushIntervalMs: 1000,
      maxBytes: 8 * 1024 ** 3,
      writeLanes: lanes,
    });
    const t1 = performance.now();
    drainer.start();
    while (drainer.status().points > 0) await new Promise((r) => setTimeout(r, 5));
    const drainSecs = (performance.now() - t1) / 1000;
    await drainer.close();
    console.log(`  outbox: drained ${backlog} points in ${drainSecs.toFixed(1)} s (${lanes} lanes)`);
    return { backlog, commitPointsPerSec: backlog / commitSecs, drainPointsPerSec: backlog / drainSecs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

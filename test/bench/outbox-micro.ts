/**
 * Outbox micro-benchmark: commit throughput (format + SQLite commit) and drain throughput of a backlog into a
 * real local influxd, plus node-influx's own `writePoints` for comparison.
 *
 *   npx tsx test/bench/outbox-micro.ts [points=200000] [batchSize=5000]
 *
 * Figures depend on the machine; run it on an otherwise idle box.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB } from 'influx';
import { createLogger } from '../../gateway/log.js';
import { createMetrics } from '../../gateway/metrics.js';
import { Outbox } from '../../gateway/outbox/outbox.js';
import { SqliteOutboxStore } from '../../gateway/outbox/sqlite-store.js';
import type { SyncMode } from '../../gateway/persist/sqlite.js';
import { InfluxWriter, type BatchWriter } from '../../gateway/sink/influx-writer.js';
import { formatPoint } from '../../gateway/sink/line-protocol.js';
import type { OutPoint } from '../../gateway/sink/point.js';
import { startInfluxd } from '../support/influxd.js';
import { benchPoints } from './outbox-drain.js';

const N = Number(process.argv[2] ?? 200_000);
const BATCH = Number(process.argv[3] ?? 5000);
const log = createLogger('silent');

const points = (n: number, offset = 0): OutPoint[] => benchPoints(n, offset, 'edge-1');

const idle: BatchWriter = { write: async () => {}, ping: async () => true };
const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en-US')} points/s`;

async function commitBench(sync: SyncMode, dir: string): Promise<void> {
  const store = new SqliteOutboxStore({ file: join(dir, `commit-${sync}-${Date.now()}.db`), sync, log });
  const outbox = new Outbox({ store, writer: idle, metrics: createMetrics(), log, batchSize: BATCH, flushIntervalMs: 60_000, maxBytes: 8 * 1024 ** 3 });
  const chunk = points(1000);
  const t = performance.now();
  for (let i = 0; i < N; i += 1000) outbox.append(chunk);
  outbox.flush();
  const ms = performance.now() - t;
  const st = outbox.status();
  console.log(`commit (sync=${sync}): ${N} points in ${ms.toFixed(0)} ms = ${rate(N, ms)}; ${st.batches} batches, ${(st.bytes / 1e6).toFixed(1)} MB`);
  await outbox.close();
}

async function drainBench(url: string, dir: string, maxRequestPoints: number): Promise<void> {
  const file = join(dir, `drain-${maxRequestPoints}.db`);
  const database = `bench_${maxRequestPoints}`;
  // Fill the backlog with the drainer not started: what an outage leaves behind.
  {
    const store = new SqliteOutboxStore({ file, sync: 'normal', log });
    const ob = new Outbox({ store, writer: idle, metrics: createMetrics(), log, batchSize: BATCH, flushIntervalMs: 60_000, maxBytes: 8 * 1024 ** 3 });
    for (let i = 0; i < N; i += 1000) ob.append(points(1000, i));
    await ob.close();
  }
  const writer = new InfluxWriter({ url, database, timeoutMs: 30_000 });
  await writer.ensureDatabase();
  const store = new SqliteOutboxStore({ file, sync: 'normal', log });
  const outbox = new Outbox({
    store,
    writer,
    metrics: createMetrics(),
    log,
    batchSize: BATCH,
    flushIntervalMs: 1000,
    maxBytes: 8 * 1024 ** 3,
    maxRequestPoints,
  });
  const t = performance.now();
  outbox.start();
  while (outbox.status().points > 0) await new Promise((r) => setTimeout(r, 5));
  const ms = performance.now() - t;
  console.log(`drain (${maxRequestPoints} points/request): ${N} points in ${ms.toFixed(0)} ms = ${rate(N, ms)}`);
  await outbox.close();
}

/** The ceiling: pre-formatted bodies posted back to back with plain node:http, no SQLite, no node-influx. */
async function rawCeiling(url: string, perRequest: number): Promise<void> {
  const database = `bench_raw_${perRequest}`;
  await new InfluxWriter({ url, database, timeoutMs: 30_000 }).ensureDatabase();
  const lines = points(N).map((p) => formatPoint(p)!);
  const bodies: string[] = [];
  for (let i = 0; i < N; i += perRequest) bodies.push(lines.slice(i, i + perRequest).join('\n'));
  const agent = new Agent({ keepAlive: true });
  const post = (body: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request(`${url}/write?db=${database}&precision=ms`, { method: 'POST', agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  const t = performance.now();
  for (const b of bodies) await post(b);
  const ms = performance.now() - t;
  agent.destroy();
  console.log(`raw HTTP ceiling (${perRequest} points/request): ${N} points in ${ms.toFixed(0)} ms = ${rate(N, ms)}`);
}

async function writePointsBench(url: string): Promise<void> {
  const u = new URL(url);
  const client = new InfluxDB({ host: u.hostname, port: Number(u.port), database: 'bench_writepoints' });
  await client.createDatabase('bench_writepoints');
  const n = Math.min(N, 100_000);
  const pts = points(n).map((p) => ({ measurement: p.measurement, tags: p.tags, fields: p.fields, timestamp: new Date(p.time) }));
  const t = performance.now();
  for (let i = 0; i < n; i += BATCH) await client.writePoints(pts.slice(i, i + BATCH), { precision: 'ms' });
  const ms = performance.now() - t;
  console.log(`node-influx writePoints (${BATCH} points/request, no SQLite): ${n} points in ${ms.toFixed(0)} ms = ${rate(n, ms)}`);
}

const dir = mkdtempSync(join(tmpdir(), 'outbox-bench-'));
const influx = await startInfluxd();
try {
  console.log(`node ${process.version}, ${N} points, batchSize ${BATCH}`);
  await commitBench('normal', dir); // also warms up the JIT
  await commitBench('normal', dir);
  await commitBench('full', dir);
  await drainBench(influx.url, dir, BATCH);
  await drainBench(influx.url, dir, 50_000);
  await rawCeiling(influx.url, 5000);
  await rawCeiling(influx.url, 50_000);
  await writePointsBench(influx.url);
} finally {
  await influx.dispose();
  rmSync(dir, { recursive: true, force: true });
}

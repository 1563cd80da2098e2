/**
 * Profiles the compiled gateway under full QoS 0 load: `node --import tsx test/bench/profile.ts [seconds] [qos]`.
 * Writes a .cpuprofile to bench-results/profile/ (open it in Chrome DevTools) and prints the top functions
 * by self time, which is what BENCHMARKS.md quotes, and the CPU seconds per 1M readings of each thread
 * (thread-cpu.ts). BENCH_PROFILE_CLUSTER=1: a cluster node on one NATS server.
 *
 * Paced load as sensors send it (the paced capacity row): BENCH_PROFILE_RATE=<msg/s> sends one publish per
 * write (BENCH_PROFILE_PER_WRITE, default 1) over BENCH_PROFILE_CONNECTIONS (default 200) connections.
 * BENCH_PROFILE_CPU=0 runs without the profiler (for A/B runs of the CPU per reading: the profiler costs some).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { startInfluxd } from '../support/influxd.js';
import { startNatsCluster } from '../support/nats.js';
import { startLoad } from './loadgen.js';
import { BENCH_RULES } from './rules.js';
import { startBareAedes, startGateway, type ServerUnderTest } from './servers.js';
import { threadSplit, threadTimes } from './thread-cpu.js';
import { sleep } from './throughput.js';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

const seconds = Number(process.argv[2] ?? 8);
const qos = Number(process.argv[3] ?? 0) as 0 | 1;
const rate = Number(process.env.BENCH_PROFILE_RATE ?? 0);
const profiling = process.env.BENCH_PROFILE_CPU !== '0';
const connections = Number(process.env.BENCH_PROFILE_CONNECTIONS ?? (rate > 0 ? 200 : 50));
const READINGS_PER_MESSAGE = process.env.BENCH_SPARKPLUG === '1' ? 10 : 3;
const dir = resolve('bench-results/profile', String(Date.now()));
mkdirSync(dir, { recursive: true });
const influx = await startInfluxd();
const nats = process.env.BENCH_PROFILE_CLUSTER ? await startNatsCluster(1) : undefined;
try {
  const gw = await startGateway({
    influxUrl: influx.url,
    database: 'profile',
    rules: BENCH_RULES,
    ...(profiling ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] } : {}),
    ...(nats ? { cluster: { servers: nats.urls, replicas: 1 } } : {}),
  });
  await measure(gw);
  await gw.stop();
  // BENCH_PROFILE_BARE=1: the same load on bare aedes, for its CPU per message in the same run.
  if (process.env.BENCH_PROFILE_BARE === '1') {
    const bare = await startBareAedes();
    await measure(bare);
    await bare.stop();
  }
} finally {
  await nats?.stop();
  await influx.dispose();
}
async function measure(server: ServerUnderTest): Promise<void> {
  // BENCH_SPARKPLUG=1: Sparkplug B DDATA (sparkplug-load.ts) instead of JSON telemetry.
  const load = await startLoad({
    port: server.mqttPort,
    connections,
    devices: Math.max(1000, connections * 5),
    qos,
    rate,
    ...(rate > 0 ? { perWrite: Number(process.env.BENCH_PROFILE_PER_WRITE ?? 1) } : {}),
    t0: Date.now() - 86_400_000,
    stepMs: 100,
    ...(process.env.BENCH_SPARKPLUG === '1' ? { sparkplug: true } : {}),
  });
  await sleep(1000);
  const a = await server.sample();
  const ta = server.pid === undefined ? undefined : threadTimes(server.pid);
  await sleep(seconds * 1000);
  const tb = server.pid === undefined ? undefined : threadTimes(server.pid);
  const b = await server.sample();
  await load.stop();
  const messages = b.messages - a.messages;
  const per1M = (cpu: number) => ((cpu / (messages * READINGS_PER_MESSAGE)) * 1e6).toFixed(3);
  console.log(`${server.name}: ${Math.round(messages / seconds)} msg/s${rate > 0 ? ` (paced ${rate}, ${connections} connections)` : ''}`);
  if (ta !== undefined && tb !== undefined) {
    const split = threadSplit(server.pid!, ta, tb);
    console.log(`  CPU s per 1M readings: main ${per1M(split.main)}, broker ${per1M(split.broker)}, other threads ${per1M(split.other)}`);
    const perK = (n: number) => ((n / messages) * 1000).toFixed(0);
    console.log(`  wake-ups per 1k messages: main ${perK(split.mainWakeups)}, broker ${perK(split.brokerWakeups)}`);
  }
  const cpu = b.cpuSeconds - a.cpuSeconds;
  console.log(
    `  CPU s per 1M readings, process: ${per1M(cpu)} (${((cpu / messages) * 1e6).toFixed(1)} us per message), RSS ${Math.round(b.rssBytes / 2 ** 20)} MiB`,
  );
}

/**
 * The bundled build (dist/bundle/, what the bench runs) puts the gateway's modules and most libraries into chunks:
 * each frame of a chunk is named by the file and line it came from, through the chunk's source map, so that the
 * parts below still find `gateway/state/`, `node_modules/zod/` and so on.
 */
const maps = new Map<string, SourceMap | undefined>();

function original(f: Node['callFrame']): Node['callFrame'] {
  if (!f.url.startsWith('file:') || !f.url.includes('/dist/bundle/')) return f;
  const file = fileURLToPath(f.url);
  if (!maps.has(file))
    maps.set(file, existsSync(`${file}.map`) ? new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')) as SourceMapPayload) : undefined);
  const entry = maps.get(file)?.findEntry(f.lineNumber, f.columnNumber);
  if (entry === undefined || !('originalSource' in entry)) return f;
  return { ...f, url: new URL(entry.originalSource, f.url).href, lineNumber: entry.originalLine };
}

function report(file: string): void {
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
  for (const n of prof.nodes) n.callFrame = original(n.callFrame);
  const self = new Map<number, number>();
  prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
  const byFn = new Map<string, number>();
  let total = 0;
  for (const t of self.values()) total += t;
  for (const n of prof.nodes) {
    const t = self.get(n.id) ?? 0;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules\/|dist\/|gateway\/)/, '$1')}:${f.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
  }
  console.log(`profile: ${join(dir, file)}`);
  // Self time by part of the system, so the gap to the bare broker can be attributed.
  const parts: [string, RegExp][] = [
    [
      'broker (aedes, mqtt-packet, bl, qlobber, debug, streams)',
      /node_modules\/(aedes|mqtt-packet|bl|qlobber|debug|mqemitter|fastfall|fastparallel|fastseries|reusify|aedes-packet|readable-stream)|node:(net|internal\/streams|buffer|events|internal\/buffer|stream_base)|^(subarray|FastBuffer|utf8Slice|slice)$/,
    ],
    ['checkpoint + ingest log (gateway/state)', /gateway\/state\/|better-sqlite3/],
    ['decode + topic (gateway/pipeline/fast-decode, decode, topics)', /gateway\/pipeline\/(fast-decode|decode|topics)/],
    ['dedup + windows (gateway/pipeline)', /gateway\/pipeline\//],
    ['alerts (gateway/alerts)', /gateway\/alerts\//],
    ['operator live view (gateway/admin/live)', /gateway\/admin\/live/],
    ['outbox + sink', /gateway\/(outbox|sink)\//],
    ['other gateway code', /gateway\//],
    ['garbage collector', /^\(garbage collector\)/],
    ['idle', /^\(idle\)/],
  ];
  const byPart = new Map<string, number>();
  for (const n of prof.nodes) {
    const t = self.get(n.id) ?? 0;
    const f = n.callFrame;
    const name = parts.find(([, re]) => re.test(f.url) || re.test(f.functionName))?.[0] ?? 'other (node internals, startup)';
    byPart.set(name, (byPart.get(name) ?? 0) + t);
  }
  for (const [k, t] of [...byPart].sort((x, y) => y[1] - x[1])) console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
  console.log('');
  for (const [k, t] of [...byFn].sort((x, y) => y[1] - x[1]).slice(0, Number(process.env.TOP ?? 40)))
    console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
}

// After the declarations above (`maps` is read by every report): one profile per thread, the gateway's and the
// broker thread's (mqtt.brokerThread).
const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
if (profiling && files.length === 0) throw new Error('no profile written');
for (const file of files) report(file);

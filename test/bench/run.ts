/**
 * `npm run bench`: the gateway against the bare-broker ceiling, side by side. Not part of `npm test`.
 *
 *   npm run build && node --import tsx test/bench/run.ts
 *
 * Prints a table and writes it as JSON to bench-results/bench-<time>.json. Environment flags (all optional):
 *   BENCH_ONLY=throughput,latency,scale,outbox,mosquitto,sparkplug   run only these sections
 *   BENCH_REPEATS=3         throughput runs per server and QoS (alternating a, b, a, b, ...; the median is quoted)
 *   BENCH_MEASURE_S=5       measuring window of a throughput run (after a 2 s warm-up)
 *   BENCH_SCALE=1000,10000,100000   sensor counts of the memory scenario
 *   BENCH_SCALE_HORIZON=30s, BENCH_SCALE_RATE=50000   its dedup/correction horizons and steady load
 *   BENCH_DRAIN_POINTS=1000000      backlog size of the outbox drain
 *   BENCH_STEP_MS=100       event time between two messages of one device in the throughput runs
 *   BENCH_PUBACK_RATE=10000 QoS 1 rate of the publish -> PUBACK latency probe (each server once; 0 = skip)
 *   BENCH_GATEWAY_NODE_ARGS="--cpu-prof"   extra node flags for the gateway process (profile.ts does this)
 *   BENCH_BROKER_THREAD=off  the gateway's mqtt.brokerThread (default: its own default, auto)
 *   BENCH_SESSIONS=memory    the gateway's mqtt.sessions (default: its own default, disk)
 * Figures depend on the machine and on whatever else runs on it: compare ratios within one run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { calibrateHalfLoad, runLatency, type LatencyFigures } from './latency.js';
import { runOutbox, type OutboxFigures } from './outbox-drain.js';
import { runScale, type ScaleFigures } from './scale.js';
import { BENCH_RULES } from './rules.js';
import { mosquittoInstalled, startBareAedes, startGateway, startMosquitto, type ServerUnderTest } from './servers.js';
import { measureRun, median, type RunFigures, type ThroughputSettings } from './throughput.js';
import { SPARKPLUG_METRICS } from './sparkplug-load.js';

const env = (k: string, d: string) => process.env[k] ?? d;
const only = new Set(env('BENCH_ONLY', 'throughput,mosquitto,latency,scale,outbox,sparkplug').split(','));
const repeats = Number(env('BENCH_REPEATS', '3'));
const settings: ThroughputSettings = {
  warmupMs: 2000,
  measureMs: Number(env('BENCH_MEASURE_S', '5')) * 1000,
  connections: 50,
  devices: 1000,
  // Event time per message per device: 100 ms = 10 Hz sensors, one window point per 100 readings.
  stepMs: Number(env('BENCH_STEP_MS', '100')),
};


interface Summary {
  server: string;
  qos: 0 | 1;
  runs: number[];
  msgPerSec: number;
  cpuSecPerMillionReadings: number;
  /** QoS 1 at full speed: medians of the runs' publish -> PUBACK percentiles. */
  ackP50Ms?: number;
  ackP99Ms?: number;
}

/** QoS 1 at a fixed moderate rate (below every server's maximum): publish -> PUBACK without queueing. */
interface PubackFigures {
  server: string;
  rate: number;
  msgPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

const GATEWAY_FULL = 'gateway sync=full';
const GATEWAY_ONE_THREAD = 'gateway, one thread';
const THROUGHPUT_KEYS = ['ratioQos0', 'ratioQos0OneThread', 'ratioQos1', 'ratioQos1Full', 'cpuRatioQos0', 'cpuRatioQos0OneThread', 'cpuRatioQos1', 'cpuRatioQos1Full'] as const;
type Ratios = { [k in (typeof THROUGHPUT_KEYS)[number]]?: number };

function summarise(runs: RunFigures[]): Summary[] {
  const groups = new Map<string, RunFigures[]>();
  for (const r of runs) {
    const k = `${r.server}|${r.qos}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const p50 = g.flatMap((r) => (r.ackP50Ms === undefined ? [] : [r.ackP50Ms]));
    const p99 = g.flatMap((r) => (r.ackP99Ms === undefined ? [] : [r.ackP99Ms]));
    return {
      server: g[0]!.server,
      qos: g[0]!.qos,
      runs: g.map((r) => Math.round(r.msgPerSec)),
      msgPerSec: median(g.map((r) => r.msgPerSec)),
      cpuSecPerMillionReadings: median(g.map((r) => r.cpuSecPerMillionReadings)),
      ...(p50.length > 0 ? { ackP50Ms: median(p50), ackP99Ms: median(p99) } : {}),
    };
  });
}

async function oneRun(start: () => Promise<ServerUnderTest>, qos: 0 | 1): Promise<RunFigures> {
  const server = await start();
  try {
    return await measureRun(server, qos, settings);
  } finally {
    await server.stop();
  }
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-');

async function main(): Promise<void> {
  const started = Date.now();
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
  console.log(`bench: ${machine.cpus} x ${machine.cpuModel}, ${machine.memGiB} GiB, node ${machine.node}`);
  let influx: InfluxServer | undefined;
  const results: {
    machine: typeof machine;
    throughput?: { runs: RunFigures[]; summary: Summary[]; puback: PubackFigures[] } & Ratios;
    latency?: LatencyFigures[];
    scale?: ScaleFigures[];
    outbox?: OutboxFigures;
    sparkplug?: SparkplugFigures;
    errors: string[];
  } = { machine, errors: [] };
  // One scenario failing (a server that dies under load is a finding too) must not lose the others' figures.
  const section = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await run();
    } catch (err) {
      const msg = `${name}: ${err instanceof Error ? err.message : String(err)}`;
      console.log(`  FAILED ${msg}`);
      results.errors.push(msg);
      return undefined;
    }
  };
  let db = 0;
  const gateway = () => startGateway({ influxUrl: influx!.url, database: `bench${++db}`, rules: BENCH_RULES });
  // Issue 10: the same QoS 1 load with every ingest log commit fsynced before its PUBACKs.
  const gatewayFull = () => startGateway({ influxUrl: influx!.url, database: `bench${++db}`, rules: BENCH_RULES, durability: { sync: 'full' }, name: GATEWAY_FULL });
  // QoS 0 only: the same gateway with aedes in its own thread (mqtt.brokerThread: off), what the second core buys.
  const gatewayOneThread = () => startGateway({ influxUrl: influx!.url, database: `bench${++db}`, rules: BENCH_RULES, brokerThread: 'off', name: GATEWAY_ONE_THREAD });
  try {
    influx = await startInfluxd();
    if (only.has('throughput') || only.has('mosquitto')) {
      const runs: RunFigures[] = [];
      for (const qos of [0, 1] as const) {
        for (let i = 0; i < repeats && only.has('throughput'); i++) {
          const servers = [['a', () => startBareAedes()], ['b', gateway], ...(qos === 1 ? [['c', gatewayFull] as const] : [['d', gatewayOneThread] as const])] as const;
          for (const [label, start] of servers) {
            const t = Date.now();
            const r = await oneRun(start, qos);
            const ack = r.ackP50Ms === undefined ? '' : `, PUBACK p50 ${fmt(r.ackP50Ms, 1)} ms p99 ${fmt(r.ackP99Ms!, 1)} ms`;
            console.log(`  throughput QoS ${qos} run ${i + 1} (${label}) ${r.server}: ${fmt(r.msgPerSec)} msg/s, ${fmt(r.cpuSecPerMillionReadings, 2)} CPU s per 1M readings${ack} (${Math.round((Date.now() - t) / 1000)} s)`);
            runs.push(r);
          }
        }
        if (only.has('mosquitto') && mosquittoInstalled()) {
          const r = await oneRun(startMosquitto, qos);
          console.log(`  throughput QoS ${qos} mosquitto: ${fmt(r.msgPerSec)} msg/s`);
          runs.push(r);
        }
      }
      // PUBACK latency without queueing: every server once at the same fixed rate, well below its maximum.
      const puback: PubackFigures[] = [];
      const pubackRate = Number(env('BENCH_PUBACK_RATE', '10000'));
      if (only.has('throughput') && pubackRate > 0) {
        for (const start of [() => startBareAedes(), gateway, gatewayFull]) {
          const f = await section('PUBACK latency', async () => {
            const server = await start();
            try {
              const r = await measureRun(server, 1, settings, pubackRate);
              return { server: r.server, rate: pubackRate, msgPerSec: r.msgPerSec, p50Ms: r.ackP50Ms ?? NaN, p99Ms: r.ackP99Ms ?? NaN };
            } finally {
              await server.stop();
            }
          });
          if (f) {
            console.log(`  PUBACK latency at ${fmt(pubackRate)} msg/s, ${f.server}: p50 ${fmt(f.p50Ms, 2)} ms, p99 ${fmt(f.p99Ms, 2)} ms (${fmt(f.msgPerSec)} msg/s)`);
            puback.push(f);
          }
        }
      }
      const summary = summarise(runs);
      const get = (server: string, qos: number) => summary.find((s) => s.server === server && s.qos === qos);
      const ratio = (server: string, qos: number) => {
        const a = get('bare aedes', qos)?.msgPerSec;
        const b = get(server, qos)?.msgPerSec;
        return a && b ? b / a : undefined;
      };
      // CPU seconds per reading, bare / gateway: what each reading costs the machine in all. With the broker on a
      // thread of its own the gateway spends more CPU per reading (two threads, a hand-over) to take more
      // readings per second, so this is a cost figure, not the throughput ratio.
      const cpuRatio = (server: string, qos: number) => {
        const a = get('bare aedes', qos)?.cpuSecPerMillionReadings;
        const b = get(server, qos)?.cpuSecPerMillionReadings;
        return a && b ? a / b : undefined;
      };
      results.throughput = {
        runs,
        summary,
        puback,
        ratioQos0: ratio('gateway', 0),
        ratioQos0OneThread: ratio(GATEWAY_ONE_THREAD, 0),
        ratioQos1: ratio('gateway', 1),
        ratioQos1Full: ratio(GATEWAY_FULL, 1),
        cpuRatioQos0: cpuRatio('gateway', 0),
        cpuRatioQos0OneThread: cpuRatio(GATEWAY_ONE_THREAD, 0),
        cpuRatioQos1: cpuRatio('gateway', 1),
        cpuRatioQos1Full: cpuRatio(GATEWAY_FULL, 1),
      };
    }
    const gwMax = results.throughput?.summary.find((s) => s.server === 'gateway' && s.qos === 0)?.msgPerSec;
    if (only.has('latency')) {
      const max = gwMax ?? Number(env('BENCH_MAX_RATE', '60000'));
      const lat: LatencyFigures[] = [];
      const push = (f: LatencyFigures | undefined) => f && lat.push(f);
      const gatewayNoCheckpoint = () =>
        startGateway({ influxUrl: influx!.url, database: `bench${++db}`, rules: BENCH_RULES, durability: { checkpointInterval: '1h' }, name: 'gateway, checkpointInterval 1h' });
      // (1) The target's load: the gateway's CPU at half a core under paced (one publish per write) arrivals.
      const half = await section('latency calibration', () => calibrateHalfLoad(gateway, Math.round(max / 8)));
      if (half) {
        console.log(`  latency: 50 % load = ${fmt(half.rate)} msg/s paced (gateway CPU ${fmt(half.cpu, 2)} at that rate in calibration)`);
        const label = '50 % of a core';
        push(await section('latency bare aedes', () => runLatency(() => startBareAedes(), half.rate, label, 'delivery')));
        if (only.has('mosquitto') && mosquittoInstalled()) push(await section('latency mosquitto', () => runLatency(startMosquitto, half.rate, label, 'delivery')));
        push(await section('latency gateway', () => runLatency(gateway, half.rate, label, 'alert')));
        // With checkpoints out of the way: what the periodic snapshot adds to the tail.
        push(await section('latency gateway, no checkpoints', () => runLatency(gatewayNoCheckpoint, half.rate, label, 'alert')));
      }
      // (2) The literal reading: half the maximum measured with large writes, which paced arrivals saturate.
      const literal = Math.round(max / 2);
      const label = 'half the large-write maximum';
      push(await section('latency bare aedes (literal)', () => runLatency(() => startBareAedes(), literal, label, 'delivery')));
      push(await section('latency gateway (literal)', () => runLatency(gateway, literal, label, 'alert')));
      results.latency = lat;
    }
    if (only.has('scale')) {
      results.scale = [];
      for (const n of env('BENCH_SCALE', '1000,10000,100000').split(',').map(Number)) {
        const f = await section(`scale ${n} sensors`, () => runScale(influx!, [n]));
        if (f) results.scale.push(...f);
      }
    }
    if (only.has('outbox')) results.outbox = await section('outbox', () => runOutbox(influx!, Number(env('BENCH_DRAIN_POINTS', '1000000'))));
    if (only.has('sparkplug')) {
      // Sparkplug B DDATA, SPARKPLUG_METRICS Double metrics by alias per payload, QoS 0: the gateway as a host
      // application (decode, alias map, seq, one reading per metric) against bare aedes with the same bytes.
      const runs: RunFigures[] = [];
      for (let i = 0; i < repeats; i++) {
        for (const start of [() => startBareAedes(), gateway]) {
          const r = await section('sparkplug throughput', async () => {
            const server = await start();
            try {
              return await measureRun(server, 0, settings, 0, true);
            } finally {
              await server.stop();
            }
          });
          if (r) {
            console.log(`  sparkplug DDATA (${SPARKPLUG_METRICS} metrics) QoS 0 run ${i + 1} ${r.server}: ${fmt(r.msgPerSec)} msg/s, ${fmt(r.readingsPerSec)} readings/s, ${fmt(r.cpuSecPerMillionReadings, 2)} CPU s per 1M readings`);
            runs.push(r);
          }
        }
      }
      const med = (server: string) => {
        const g = runs.filter((r) => r.server === server);
        return g.length > 0 ? { runs: g.map((r) => Math.round(r.msgPerSec)), msgPerSec: median(g.map((r) => r.msgPerSec)), cpu: median(g.map((r) => r.cpuSecPerMillionReadings)) } : undefined;
      };
      const bare = med('bare aedes');
      const gw = med('gateway');
      results.sparkplug = { metricsPerPayload: SPARKPLUG_METRICS, runs, ...(bare ? { bare } : {}), ...(gw ? { gateway: gw } : {}), ...(bare && gw ? { ratio: gw.msgPerSec / bare.msgPerSec } : {}) };
    }
  } finally {
    await influx?.dispose();
  }
  printTable(results);
  mkdirSync('bench-results', { recursive: true });
  const file = join('bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ ...results, seconds: Math.round((Date.now() - started) / 1000) }, null, 2));
  console.log(`\nwritten ${file} (${Math.round((Date.now() - started) / 1000)} s)`);
}

interface SparkplugFigures {
  metricsPerPayload: number;
  runs: RunFigures[];
  bare?: { runs: number[]; msgPerSec: number; cpu: number };
  gateway?: { runs: number[]; msgPerSec: number; cpu: number };
  ratio?: number;
}

function printTable(r: {
  throughput?: { summary: Summary[]; puback: PubackFigures[] } & Ratios;
  latency?: LatencyFigures[];
  scale?: ScaleFigures[];
  outbox?: OutboxFigures;
  sparkplug?: SparkplugFigures;
  errors: string[];
}): void {
  const rows: string[][] = [['what', 'figure', 'target']];
  for (const s of r.throughput?.summary ?? []) {
    const ack = s.ackP50Ms === undefined ? '' : `; PUBACK at full speed (100 in flight/connection) p50 ${fmt(s.ackP50Ms, 1)} ms, p99 ${fmt(s.ackP99Ms!, 1)} ms`;
    rows.push([`ingest ${s.server} QoS ${s.qos} (median of ${s.runs.join(', ')})`, `${fmt(s.msgPerSec)} msg/s, ${fmt(s.cpuSecPerMillionReadings, 2)} CPU s/1M readings${ack}`, '']);
  }
  const t = r.throughput;
  const ratioRows: [keyof Ratios, string, string][] = [
    ['ratioQos0', 'ratio gateway / bare aedes, QoS 0', '>= 0.70'],
    ['ratioQos0OneThread', 'ratio gateway, one thread (mqtt.brokerThread off) / bare aedes, QoS 0', ''],
    ['ratioQos1', 'ratio gateway (sync normal) / bare aedes, QoS 1', '>= 0.50'],
    ['ratioQos1Full', 'ratio gateway (sync full) / bare aedes, QoS 1', ''],
    ['cpuRatioQos0', 'CPU per reading, bare aedes / gateway, QoS 0', ''],
    ['cpuRatioQos0OneThread', 'CPU per reading, bare aedes / gateway one thread, QoS 0', ''],
    ['cpuRatioQos1', 'CPU per reading, bare aedes / gateway (sync normal), QoS 1', ''],
    ['cpuRatioQos1Full', 'CPU per reading, bare aedes / gateway (sync full), QoS 1', ''],
  ];
  for (const [k, label, target] of ratioRows) if (t?.[k] !== undefined) rows.push([label, fmt(t[k], 2), target]);
  for (const p of t?.puback ?? []) rows.push([`publish -> PUBACK, ${p.server}, QoS 1 at ${fmt(p.rate)} msg/s`, `p50 ${fmt(p.p50Ms, 2)} ms, p99 ${fmt(p.p99Ms, 2)} ms`, '']);
  for (const l of r.latency ?? []) {
    const what = l.mode === 'alert' ? 'publish -> alert event' : 'publish -> delivery (floor)';
    rows.push([
      `${what}, ${l.server}, ${l.label}: ${fmt(l.rate)} msg/s paced, server CPU ${fmt(l.cpu, 2)} (${l.samples} events, ${l.lost} lost)`,
      `p50 ${fmt(l.p50Ms, 2)} ms, p99 ${fmt(l.p99Ms, 2)} ms, max ${fmt(l.maxMs, 1)} ms`,
      l.mode === 'alert' && l.label.startsWith('50') ? 'p99 < 10 ms' : '',
    ]);
  }
  for (const s of r.scale ?? []) {
    rows.push([`memory, ${fmt(s.sensors)} sensors (${s.settings}; took ${fmt(s.msgPerSec)} msg/s at CPU ${fmt(s.cpu, 2)})`, `peak ${fmt(s.peakRssMiB)} MiB RSS, end ${fmt(s.rssMiB)} MiB (heap ${fmt(s.heapUsedMiB)} MiB), ${fmt(s.bytesPerSensor)} B/sensor, dedup keys ${s.dedupKeysFirst}->${s.dedupKeysLast}, retained ${s.retainedFirst}->${s.retainedLast}`, s.sensors >= 100_000 ? '< 1024 MiB' : '']);
  }
  if (r.outbox) {
    rows.push(['outbox commit (format + SQLite)', `${fmt(r.outbox.commitPointsPerSec)} points/s`, '']);
    rows.push([`outbox drain of ${fmt(r.outbox.backlog)} points`, `${fmt(r.outbox.drainPointsPerSec)} points/s`, '>= 100,000']);
  }
  const sp = r.sparkplug;
  for (const [label, f] of [['bare aedes', sp?.bare], ['gateway', sp?.gateway]] as const) {
    if (f) rows.push([`ingest Sparkplug DDATA (${sp!.metricsPerPayload} metrics/payload) ${label} QoS 0 (median of ${f.runs.join(', ')})`, `${fmt(f.msgPerSec)} msg/s = ${fmt(f.msgPerSec * sp!.metricsPerPayload)} readings/s, ${fmt(f.cpu, 2)} CPU s/1M readings`, '']);
  }
  if (sp?.ratio !== undefined) rows.push(['ratio gateway / bare aedes, Sparkplug DDATA, QoS 0', fmt(sp.ratio, 2), '']);
  for (const e of r.errors) rows.push(['FAILED', e, '']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log('');
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join(' | '));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

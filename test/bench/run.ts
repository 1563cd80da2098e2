/**
 * `npm run bench`: the gateway against the bare-broker ceiling, side by side. Not part of `npm test`.
 *
 *   npm run build && node --import tsx test/bench/run.ts
 *
 * Prints a table and writes it as JSON to bench-results/bench-<time>.json. Environment flags (all optional):
 *   BENCH_ONLY=throughput,puback,capacity,latency,scale,memory,pause,startup,outbox,mosquitto,sparkplug   run only these sections
 *     (memory = 100k sensors at 1 Hz with the shipped 15m horizons, filled as fast as taken, then 2 minutes steady: memory.ts;
 *     pause = the same state restored, then a load the gateway carries: every checkpoint turn by phase, checkpoint-turns.ts)
 *   BENCH_PAUSE_RATE=6000, BENCH_PAUSE_S=90   the pause section's steady load and how long it runs
 *   BENCH_REPEATS=3         throughput runs per server and QoS (alternating a, b, a, b, ...; the median is quoted)
 *   BENCH_MEASURE_S=5       measuring window of a throughput run (after a 2 s warm-up)
 *   BENCH_SCALE=1000,10000,100000   sensor counts of the memory scenario
 *   BENCH_SCALE_HORIZON=30s, BENCH_SCALE_RATE=50000   its dedup/correction horizons and steady load
 *   BENCH_DRAIN_POINTS=1000000      backlog size of the outbox drain
 *   BENCH_STEP_MS=100       event time between two messages of one device in the throughput runs
 *   BENCH_PUBACK_RATE=10000 QoS 1 rate of the publish -> PUBACK latency probe (each server once)
 *   BENCH_CAPACITY_START=5000, _MAX=400000, _BISECTIONS=3, _PROBES=400, _CONNECTIONS=200   the paced capacity search
 *   BENCH_WARMUP_S=15       load on each fresh server before the latency and capacity probes (latency.ts WARMUP_MS)
 *   BENCH_MEMORY_SENSORS=100000, BENCH_MEMORY_HORIZON_S, BENCH_MEMORY_HEAP_GROWTH   sensors of the memory scenario, its
 *     horizons (default the shipped 15m) and the gateway's runtime.heapGrowthPercent (default its own)
 *   BENCH_MEMORY_CHECKPOINT_INTERVAL=1h   the memory scenario's durability.checkpointInterval (default the gateway's)
 *   BENCH_MEMORY_FILL=restore, BENCH_MEMORY_STEADY_S=120   how its horizons are filled (restore: the state built in the bench
 *     process and restored by the gateway; <msg/s>: sent over MQTT, 0 = as fast as taken) and its steady phase (at BENCH_SCALE_RATE)
 *   BENCH_MEMORY_MALLOC=1   after its load: glibc malloc_stats and malloc_trim(0) in the gateway (gdb attaches to it)
 *   BENCH_MEMORY_HEAP_SNAPSHOT=<folder>   then a heap snapshot of the gateway thread into the folder (with
 *     BENCH_GATEWAY_NODE_ARGS=--heapsnapshot-signal=SIGUSR2)
 *   BENCH_STARTUP_SENSORS=100000, BENCH_STARTUP_REPEATS=3   the start-up scenario's checkpoint and its starts
 *   BENCH_GATEWAY_NODE_ARGS="--cpu-prof"   extra node flags for the gateway process (profile.ts does this)
 *   BENCH_BROKER_THREAD=off  the gateway's mqtt.brokerThread (default: its own default, auto)
 *   BENCH_SESSIONS=memory    the gateway's mqtt.sessions (default: its own default, disk)
 * Figures depend on the machine and on whatever else runs on it: compare ratios within one run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { searchCapacity } from './capacity.js';
import { calibrateHalfLoad, runLatency, type LatencyFigures } from './latency.js';
import { runOutbox } from './outbox-drain.js';
import { runPuback } from './puback.js';
import { runScale } from './scale.js';
import { runMemory } from './memory.js';
import { runStartup } from './startup.js';
import { fmt, printTable, type BenchResults, type Summary } from './table.js';
import { BENCH_RULES } from './rules.js';
import { mosquittoInstalled, startBareAedes, startGateway, startMosquitto, type ServerUnderTest } from './servers.js';
import { measureRun, median, type RunFigures, type ThroughputSettings } from './throughput.js';
import { SPARKPLUG_METRICS } from './sparkplug-load.js';

const env = (k: string, d: string) => process.env[k] ?? d;
const only = new Set(env('BENCH_ONLY', 'throughput,mosquitto,puback,capacity,latency,scale,memory,pause,startup,outbox,sparkplug').split(','));
const repeats = Number(env('BENCH_REPEATS', '3'));
const settings: ThroughputSettings = {
  warmupMs: 2000,
  measureMs: Number(env('BENCH_MEASURE_S', '5')) * 1000,
  connections: 50,
  devices: 1000,
  // Event time per message per device: 100 ms = 10 Hz sensors, one window point per 100 readings.
  stepMs: Number(env('BENCH_STEP_MS', '100')),
};

const GATEWAY_FULL = 'gateway sync=full';
const GATEWAY_ONE_THREAD = 'gateway, one thread';

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

async function main(): Promise<void> {
  const started = Date.now();
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadAverage: loadavg(),
  };
  // The load average says how shared the machine was: figures of a busy machine are compared within the run only.
  console.log(
    `bench: ${machine.cpus} x ${machine.cpuModel}, ${machine.memGiB} GiB, node ${machine.node}, load average ${machine.loadAverage.map((x) => x.toFixed(1)).join(' ')}`,
  );
  let influx: InfluxServer | undefined;
  const results: BenchResults = { machine, errors: [] };
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
  const gatewayFull = () =>
    startGateway({ influxUrl: influx!.url, database: `bench${++db}`, rules: BENCH_RULES, durability: { sync: 'full' }, name: GATEWAY_FULL });
  // QoS 0 only: the same gateway with aedes in its own thread (mqtt.brokerThread: off), what the second core buys.
  const gatewayOneThread = () =>
    startGateway({ influxUrl: influx!.url, database: `bench${++db}`, rules: BENCH_RULES, brokerThread: 'off', name: GATEWAY_ONE_THREAD });
  try {
    influx = await startInfluxd();
    if (only.has('throughput') || only.has('mosquitto')) {
      const runs: RunFigures[] = [];
      for (const qos of [0, 1] as const) {
        for (let i = 0; i < repeats && only.has('throughput'); i++) {
          const servers = [
            ['a', () => startBareAedes()],
            ['b', gateway],
            ...(qos === 1 ? [['c', gatewayFull] as const] : [['d', gatewayOneThread] as const]),
          ] as const;
          for (const [label, start] of servers) {
            const t = Date.now();
            const r = await oneRun(start, qos);
            const ack = r.ackP50Ms === undefined ? '' : `, PUBACK p50 ${fmt(r.ackP50Ms, 1)} ms p99 ${fmt(r.ackP99Ms!, 1)} ms`;
            console.log(
              `  throughput QoS ${qos} run ${i + 1} (${label}) ${r.server}: ${fmt(r.msgPerSec)} msg/s, ${fmt(r.cpuSecPerMillionReadings, 2)} CPU s per 1M readings${ack} (${Math.round((Date.now() - t) / 1000)} s)`,
            );
            runs.push(r);
          }
        }
        if (only.has('mosquitto') && mosquittoInstalled()) {
          const r = await oneRun(startMosquitto, qos);
          console.log(`  throughput QoS ${qos} mosquitto: ${fmt(r.msgPerSec)} msg/s`);
          runs.push(r);
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
    if (only.has('puback')) {
      const rate = Number(env('BENCH_PUBACK_RATE', '10000'));
      results.puback = await section('PUBACK latency', () => runPuback([() => startBareAedes(), gateway, gatewayFull], rate, settings));
    }
    if (only.has('capacity')) {
      // Bare aedes first, then the gateway: each search starts fresh servers per step (capacity.ts).
      results.capacity = [];
      for (const [start, mode] of [
        [() => startBareAedes(), 'delivery'],
        [gateway, 'alert'],
      ] as const) {
        const f = await section(`capacity ${mode}`, () => searchCapacity(start, mode));
        if (f) results.capacity.push(f);
      }
    }
    const gwMax = results.throughput?.summary.find((s) => s.server === 'gateway' && s.qos === 0)?.msgPerSec;
    if (only.has('latency')) {
      const max = gwMax ?? Number(env('BENCH_MAX_RATE', '60000'));
      const lat: LatencyFigures[] = [];
      const push = (f: LatencyFigures | undefined) => f && lat.push(f);
      const gatewayNoCheckpoint = () =>
        startGateway({
          influxUrl: influx!.url,
          database: `bench${++db}`,
          rules: BENCH_RULES,
          durability: { checkpointInterval: '1h' },
          name: 'gateway, checkpointInterval 1h',
        });
      // (1) The target's load: the gateway's CPU at half a core under paced (one publish per write) arrivals.
      const half = await section('latency calibration', () => calibrateHalfLoad(gateway, Math.round(max / 8)));
      if (half) {
        console.log(`  latency: 50 % load = ${fmt(half.rate)} msg/s paced (gateway CPU ${fmt(half.cpu, 2)} at that rate in calibration)`);
        const label = '50 % of a core';
        push(await section('latency bare aedes', () => runLatency(() => startBareAedes(), half.rate, label, 'delivery')));
        if (only.has('mosquitto') && mosquittoInstalled())
          push(await section('latency mosquitto', () => runLatency(startMosquitto, half.rate, label, 'delivery')));
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
    if (only.has('memory')) {
      results.memoryDefault = await section('memory at the default horizons', () =>
        runMemory(influx!, {
          sensors: Number(env('BENCH_MEMORY_SENSORS', '100000')),
          fill: env('BENCH_MEMORY_FILL', 'restore') === 'restore' ? 'restore' : Number(env('BENCH_MEMORY_FILL', 'restore')),
          steadyRate: Number(env('BENCH_SCALE_RATE', '50000')),
          steadyS: Number(env('BENCH_MEMORY_STEADY_S', '120')),
          malloc: env('BENCH_MEMORY_MALLOC', '0') === '1',
          ...(process.env.BENCH_MEMORY_HORIZON_S ? { horizonS: Number(process.env.BENCH_MEMORY_HORIZON_S) } : {}),
          ...(process.env.BENCH_MEMORY_HEAP_GROWTH ? { heapGrowthPercent: Number(process.env.BENCH_MEMORY_HEAP_GROWTH) } : {}),
          ...(process.env.BENCH_MEMORY_CHECKPOINT_INTERVAL ? { checkpointInterval: process.env.BENCH_MEMORY_CHECKPOINT_INTERVAL } : {}),
          ...(process.env.BENCH_MEMORY_HEAP_SNAPSHOT ? { heapSnapshotTo: process.env.BENCH_MEMORY_HEAP_SNAPSHOT } : {}),
        }),
      );
    }
    if (only.has('pause')) {
      // Issue 23, target 2: the checkpoint's turns at 100k sensors with the shipped horizons full (the memory
      // section's restore) under a load the gateway carries (the memory section offers more than it takes).
      results.pause = await section('checkpoint pauses at 100k sensors', () =>
        runMemory(influx!, {
          sensors: Number(env('BENCH_MEMORY_SENSORS', '100000')),
          fill: 'restore',
          steadyRate: Number(env('BENCH_PAUSE_RATE', '6000')),
          steadyS: Number(env('BENCH_PAUSE_S', '90')),
          malloc: false,
        }),
      );
    }
    if (only.has('startup')) {
      results.startup = await section('start-up', () =>
        runStartup({ influxUrl: influx!.url, rules: BENCH_RULES }, Number(env('BENCH_STARTUP_SENSORS', '100000'))),
      );
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
            console.log(
              `  sparkplug DDATA (${SPARKPLUG_METRICS} metrics) QoS 0 run ${i + 1} ${r.server}: ${fmt(r.msgPerSec)} msg/s, ${fmt(r.readingsPerSec)} readings/s, ${fmt(r.cpuSecPerMillionReadings, 2)} CPU s per 1M readings`,
            );
            runs.push(r);
          }
        }
      }
      const med = (server: string) => {
        const g = runs.filter((r) => r.server === server);
        return g.length > 0
          ? { runs: g.map((r) => Math.round(r.msgPerSec)), msgPerSec: median(g.map((r) => r.msgPerSec)), cpu: median(g.map((r) => r.cpuSecPerMillionReadings)) }
          : undefined;
      };
      const bare = med('bare aedes');
      const gw = med('gateway');
      results.sparkplug = {
        metricsPerPayload: SPARKPLUG_METRICS,
        runs,
        ...(bare ? { bare } : {}),
        ...(gw ? { gateway: gw } : {}),
        ...(bare && gw ? { ratio: gw.msgPerSec / bare.msgPerSec } : {}),
      };
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

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

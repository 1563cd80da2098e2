/**
 * Who had the cores while the slow probes waited: `node --import tsx test/bench/sched-trace.ts [rate] [gateway|bare]`.
 *
 * One step of the paced capacity search (capacity.ts: 200 connections, one publish per write, 1,000 devices), with
 * the kernel's context switches recorded on every core (`perf record -e sched:sched_switch -a`, Debian's
 * linux-perf; run as root or with kernel.perf_event_paranoid <= -1). Probes as latency.ts, BENCH_TRACE_PROBES of
 * them (default 2000) 5 ms apart, each send time taken on CLOCK_MONOTONIC, the clock perf is told to use. Then:
 *  - the slow probes (publish -> alert, or delivery for bare aedes, over BENCH_TRACE_SLOW_MS, default 5) and the
 *    time each waited, merged into windows;
 *  - per role (the gateway thread, the broker thread, the gateway's helper threads, the load generator, influxd,
 *    this process, idle), its share of the cores inside those windows against its share over all the probes.
 * A role with a much larger share inside the windows than outside ran when the slow probes waited.
 *
 * Roles: the gateway's main thread is the task whose id is the pid; its broker thread the busiest other thread at
 * nice 0; its helpers are the threads it puts at a higher nice value: those started before the broker thread are
 * V8's and Node's platform threads (V8's GC and compiler tasks run on them) and libuv's pool
 * (runtime.helperThreadNice), those after it the checkpoint writer and the WAL copier (runtime.backgroundThreadNice).
 * BENCHMARKS.md, "Who had the cores while the slow probes waited", quotes it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startInfluxd } from '../support/influxd.js';
import { quantile, WARMUP_MS } from './latency.js';
import { startLoad } from './loadgen.js';
import { BENCH_RULES } from './rules.js';
import { startBareAedes, startGateway, type ServerUnderTest } from './servers.js';
import { sleep } from './throughput.js';

const rate = Number(process.argv[2] ?? 50_000);
const bare = process.argv[3] === 'bare';
const probes = Number(process.env.BENCH_TRACE_PROBES ?? 2000);
const slowMs = Number(process.env.BENCH_TRACE_SLOW_MS ?? 5);
/** Load before the probes: latency.ts's WARMUP_MS (BENCH_WARMUP_S), as the capacity and latency sections. */
const warmupMs = WARMUP_MS;

/** CLOCK_MONOTONIC in seconds: perf's timestamps with `-k CLOCK_MONOTONIC`, and process.hrtime's clock. */
const mono = () => Number(process.hrtime.bigint()) / 1e9;

interface Probe {
  readonly sentAt: number;
  readonly latency: number;
}

/** Probes `intervalMs` apart, each timed to its alert (gateway) or delivery (bare): send times in seconds, CLOCK_MONOTONIC. */
async function probe(server: ServerUnderTest): Promise<{ probes: Probe[]; from: number; to: number }> {
  const url = `mqtt://127.0.0.1:${server.mqttPort}`;
  const sub = await mqtt.connectAsync(url, { clientId: 'trace-alerts' });
  const pub = await mqtt.connectAsync(url, { clientId: 'trace-probe' });
  for (const c of [sub, pub]) (c.stream as unknown as Socket).setNoDelay(true);
  const [subTopic, pubTopic] = bare ? ['bench-probe/#', 'bench-probe/x'] : ['alerts/#', 'devices/probe-1/telemetry'];
  const sent = new Map<number, { mono: number; at: number }>();
  const out: Probe[] = [];
  sub.on('message', (topic, payload) => {
    if (!bare && !topic.startsWith('alerts/probe-1/')) return;
    const now = performance.now();
    const ts = (JSON.parse(payload.toString()) as { ts: number }).ts;
    const s = sent.get(ts);
    if (s === undefined) return;
    sent.delete(ts);
    out.push({ sentAt: s.mono, latency: (now - s.at) / 1000 });
  });
  await sub.subscribeAsync(subTopic, { qos: 0 });
  await sleep(200);
  const from = mono();
  const t0 = Date.now() - 3_600_000;
  for (let k = 0; k < probes; k++) {
    const ts = t0 + k * 1000;
    sent.set(ts, { mono: mono(), at: performance.now() });
    pub.publish(pubTopic, `{"ts":${ts},"readings":{"a":${k % 2 === 0 ? 200 : 0}}}`, { qos: 0 });
    await sleep(5);
  }
  await sleep(1000);
  const to = mono();
  await Promise.all([sub.endAsync(true), pub.endAsync(true)]);
  return { probes: out, from, to };
}

/** [start, end) seconds a thread ran on one core. */
interface Run {
  readonly from: number;
  readonly to: number;
  readonly tid: number;
}

interface Trace {
  readonly runs: Run[];
  readonly pidOf: ReadonlyMap<number, number>;
  readonly prioOf: ReadonlyMap<number, number>;
  readonly commOf: ReadonlyMap<number, string>;
}

/** Every core's runs, from the text of `perf script -F pid,tid,cpu,time,trace` over sched_switch events. */
function parseSwitches(text: string): Trace {
  const line =
    /^\s*(\d+)\/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+prev_comm=(.*) prev_pid=(\d+) prev_prio=(\d+) prev_state=\S+ ==> next_comm=.* next_pid=(\d+) next_prio=(\d+)/;
  const runs: Run[] = [];
  const current = new Map<number, { tid: number; since: number }>();
  const pidOf = new Map<number, number>();
  const prioOf = new Map<number, number>();
  const commOf = new Map<number, string>();
  for (const l of text.split('\n')) {
    const m = line.exec(l);
    if (m === null) continue;
    const [pid, tid, cpu, t, comm, prio, next, nextPrio] = [+m[1]!, +m[2]!, +m[3]!, +m[4]!, m[5]!, +m[7]!, +m[8]!, +m[9]!];
    pidOf.set(tid, pid);
    prioOf.set(tid, prio);
    prioOf.set(next, nextPrio);
    commOf.set(tid, comm);
    const c = current.get(cpu);
    if (c !== undefined) runs.push({ from: c.since, to: t, tid: c.tid });
    current.set(cpu, { tid: next, since: t });
  }
  return { runs, pidOf, prioOf, commOf };
}

/** Merged [from, to) windows in which at least one slow probe waited. */
function slowWindows(list: readonly Probe[]): [number, number][] {
  const ws = list
    .filter((p) => p.latency * 1000 > slowMs)
    .map((p): [number, number] => [p.sentAt, p.sentAt + p.latency])
    .sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const w of ws) {
    const last = merged[merged.length - 1];
    if (last !== undefined && w[0] <= last[1]) last[1] = Math.max(last[1], w[1]);
    else merged.push([w[0], w[1]]);
  }
  return merged;
}

/** CPU seconds per tid inside the windows (sorted, disjoint). */
function cpuIn(runs: readonly Run[], windows: readonly [number, number][]): Map<number, number> {
  const out = new Map<number, number>();
  let w = 0;
  for (const r of [...runs].sort((a, b) => a.from - b.from)) {
    while (w < windows.length && windows[w]![1] <= r.from) w++;
    for (let k = w; k < windows.length && windows[k]![0] < r.to; k++) {
      const o = Math.min(r.to, windows[k]![1]) - Math.max(r.from, windows[k]![0]);
      if (o > 0) out.set(r.tid, (out.get(r.tid) ?? 0) + o);
    }
  }
  return out;
}

const influx = bare ? undefined : await startInfluxd();
const dir = mkdtempSync(join(tmpdir(), 'sched-trace-'));
try {
  if (spawnSync('perf', ['--version']).status !== 0) throw new Error('perf not found (Debian: apt-get install linux-perf)');
  const server = bare ? await startBareAedes() : await startGateway({ influxUrl: influx!.url, database: 'trace', rules: BENCH_RULES });
  const load = await startLoad({ port: server.mqttPort, connections: 200, devices: 1000, qos: 0, rate, t0: Date.now() - 86_400_000, stepMs: 100, perWrite: 1 });
  let result: Awaited<ReturnType<typeof probe>>;
  const file = join(dir, 'perf.data');
  try {
    await sleep(warmupMs);
    const perf = spawn('perf', ['record', '-q', '-e', 'sched:sched_switch', '-a', '-k', 'CLOCK_MONOTONIC', '-o', file], { stdio: 'ignore' });
    await sleep(500);
    try {
      result = await probe(server);
    } finally {
      perf.kill('SIGINT');
      await new Promise((resolve) => perf.once('exit', resolve));
    }
  } finally {
    await load.stop();
    await server.stop();
  }
  const script = spawnSync('perf', ['script', '-i', file, '-F', 'pid,tid,cpu,time,trace'], { maxBuffer: 1 << 30, encoding: 'utf8' });
  if (script.status !== 0) throw new Error(`perf script failed: ${script.stderr}`);
  const trace = parseSwitches(script.stdout);
  const cores = availableParallelism();

  const { probes: list, from, to } = result;
  const lat = list.map((p) => p.latency * 1000).sort((a, b) => a - b);
  const windows = slowWindows(list);
  const inSlow = cpuIn(trace.runs, windows);
  const all = cpuIn(trace.runs, [[from, to]]);
  const slowSpan = windows.reduce((n, [a, b]) => n + b - a, 0);

  // Roles. The server's busiest thread at nice 0 other than its main one is its broker thread.
  const serverPid = server.pid;
  const busiestWorker = [...all]
    .filter(([tid]) => trace.pidOf.get(tid) === serverPid && tid !== serverPid && (trace.prioOf.get(tid) ?? 120) <= 120)
    .sort((a, b) => b[1] - a[1])[0]?.[0];
  const role = (tid: number): string => {
    if (tid === 0) return 'idle';
    const pid = trace.pidOf.get(tid);
    if (pid === serverPid) {
      if (tid === serverPid) return bare ? 'aedes (main thread)' : 'gateway thread';
      if (tid === busiestWorker && !bare) return 'broker thread';
      if (bare) return 'aedes helpers';
      // The gateway nices the threads it finds first thing in main, before the broker thread starts: V8's and Node's
      // platform threads and libuv's pool (module loading has started it). The checkpoint writer and the WAL copier
      // start after the broker thread (thread ids grow).
      if ((trace.prioOf.get(tid) ?? 120) <= 120) return 'gateway, other threads';
      return busiestWorker !== undefined && tid < busiestWorker ? 'V8, Node, libuv pool (niced)' : 'writer, WAL copier (niced)';
    }
    if (pid === load.pid) return 'load generator';
    if (pid === process.pid) return 'bench (probes)';
    if (trace.commOf.get(tid) === 'influxd') return 'influxd';
    return 'other';
  };
  const byRole = (m: Map<number, number>) => {
    const out = new Map<string, number>();
    for (const [tid, s] of m) out.set(role(tid), (out.get(role(tid)) ?? 0) + s);
    return out;
  };
  const slowRoles = byRole(inSlow);
  const allRoles = byRole(all);
  console.log(
    `${server.name} at ${rate} msg/s paced: ${lat.length} probes, p50 ${quantile(lat, 0.5).toFixed(2)} ms, p99 ${quantile(lat, 0.99).toFixed(2)} ms; ` +
      `${list.filter((p) => p.latency * 1000 > slowMs).length} over ${slowMs} ms, waiting in ${windows.length} windows of ${(slowSpan * 1000).toFixed(0)} ms in all`,
  );
  console.log(`share of the ${cores} cores    in the slow windows    over all ${(to - from).toFixed(1)} s    ratio`);
  for (const [name, s] of [...slowRoles].sort((a, b) => b[1] - a[1])) {
    const inside = s / (slowSpan * cores);
    const overall = (allRoles.get(name) ?? 0) / ((to - from) * cores);
    console.log(
      `  ${name.padEnd(30)} ${(100 * inside).toFixed(1).padStart(6)} %    ${(100 * overall).toFixed(1).padStart(10)} %    ${(inside / overall).toFixed(1).padStart(5)}x`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  await influx?.dispose();
}

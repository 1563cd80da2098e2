/**
 * Start-up: from spawning `node dist/bundle/main.js` (servers.ts GATEWAY_MAIN) to the first CONNACK on its MQTT
 * port (a client that connects every 2 ms until one is answered), with an empty state and with the checkpoint of
 * 100,000 sensors to restore. Each figure is the median of `repeats` starts on the same folder; the process is
 * stopped with SIGTERM after each (its final checkpoint is the state the next start restores).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectPacket } from '../support/mqtt-wire.js';
import { freePort } from '../support/influxd.js';
import { startLoad } from './loadgen.js';
import { GATEWAY_MAIN, startGateway, writeGatewayConfig, type GatewayOptions } from './servers.js';
import { median, sleep } from './throughput.js';

export interface StartupFigures {
  readonly state: string;
  readonly sensors: number;
  readonly runsMs: number[];
  readonly medianMs: number;
  /** CPU time of the process (both threads) at the CONNACK: steadier than the wall time on a shared machine. */
  readonly cpuMs: number[];
  readonly medianCpuMs: number;
}

/** User + system CPU time of a process so far, from /proc/<pid>/stat (Linux; clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One CONNACK attempt: resolves true when answered, false when refused or closed. */
function tryConnack(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.once('error', () => done(false));
    s.once('close', () => done(false));
    s.once('connect', () => s.write(connectPacket(`bench-startup-${process.pid}`)));
    s.once('data', (b: Buffer) => done(b[0] === 0x20));
  });
}

async function timeStart(dir: string, opts: GatewayOptions): Promise<{ ms: number; cpuMs: number }> {
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  const config = writeGatewayConfig(dir, opts, mqttPort, httpPort);
  const t0 = performance.now();
  const child = spawn(process.execPath, [GATEWAY_MAIN], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, GATEWAY_CONFIG: config } });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
      if (await tryConnack(mqttPort)) return { ms: performance.now() - t0, cpuMs: cpuMsOf(child.pid!) };
      if (performance.now() - t0 > 60_000) throw new Error('no CONNACK within 60 s');
      await sleep(2);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)));
  }
}

export async function runStartup(
  base: Omit<GatewayOptions, 'database' | 'dir'>,
  sensors: number,
  repeats = Number(process.env.BENCH_STARTUP_REPEATS ?? 3),
): Promise<StartupFigures[]> {
  const out: StartupFigures[] = [];
  const figures = (state: string, sensors: number, runs: { ms: number; cpuMs: number }[]): StartupFigures => {
    const runsMs = runs.map((r) => r.ms);
    const cpuMs = runs.map((r) => r.cpuMs);
    console.log(`  start-up to first CONNACK, ${state}: ${runsMs.map((x) => x.toFixed(0)).join(', ')} ms (CPU ${cpuMs.join(', ')} ms)`);
    return { state, sensors, runsMs, medianMs: median(runsMs), cpuMs, medianCpuMs: median(cpuMs) };
  };
  const measure = async (state: string, n: number, dir: string) => {
    const runs: { ms: number; cpuMs: number }[] = [];
    for (let i = 0; i < repeats; i++) runs.push(await timeStart(dir, { ...base, database: 'startup' }));
    out.push(figures(state, n, runs));
  };
  const empty = mkdtempSync(join(tmpdir(), 'bench-start-'));
  const full = mkdtempSync(join(tmpdir(), 'bench-start-'));
  try {
    // A fresh folder per start: empty means no state file at all.
    const runs: { ms: number; cpuMs: number }[] = [];
    for (let i = 0; i < repeats; i++) {
      const dir = mkdtempSync(join(empty, 'run-'));
      runs.push(await timeStart(dir, { ...base, database: 'startup' }));
    }
    out.push(figures('empty state', 0, runs));
    // The state of `sensors` sensors (3 per device, 5 readings each), left by a graceful stop's checkpoint.
    const devices = Math.ceil(sensors / 3);
    const gw = await startGateway({ ...base, database: 'startup', dir: full });
    try {
      const load = await startLoad({ port: gw.mqttPort, connections: 50, devices, qos: 0, rate: 50_000, t0: Date.now() - 86_400_000, stepMs: 1000 });
      const until = Date.now() + 120_000;
      while ((await gw.sample()).messages < devices * 5 && Date.now() < until) await sleep(250);
      await load.stop();
      await sleep(500);
    } finally {
      await gw.stop();
    }
    await measure(`checkpoint of ${sensors.toLocaleString('en-US')} sensors`, sensors, full);
  } finally {
    rmSync(empty, { recursive: true, force: true });
    rmSync(full, { recursive: true, force: true });
  }
  return out;
}

/**
 * The servers under test, each in its own process so its CPU and memory are its own:
 *  - bare aedes (bare-aedes.ts, via tsx), counting over IPC;
 *  - the gateway, COMPILED and bundled as `npm start` runs it (dist/bundle/main.js; `npm run build` first),
 *    counting via /metrics and /health;
 *  - Mosquitto (Debian package), counting via $SYS, when installed.
 * Every server exposes the same `ServerUnderTest` so the scenarios do not care which one they drive.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { freePort } from '../support/influxd.js';

export interface ServerSample {
  /** Publishes received so far (ingest topics). */
  readonly messages: number;
  readonly cpuSeconds: number;
  readonly rssBytes: number;
  /** V8 heap in use (gateway only; 0 elsewhere). */
  readonly heapUsedBytes?: number;
}

export interface ServerUnderTest {
  readonly name: string;
  readonly mqttPort: number;
  readonly httpPort?: number;
  /** The server's process (per-thread CPU: thread-cpu.ts). */
  readonly pid?: number;
  sample(): Promise<ServerSample>;
  stop(): Promise<void>;
}

const ROOT = new URL('../../', import.meta.url).pathname;

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(t);
}

export async function startBareAedes(parse = false): Promise<ServerUnderTest> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/bench/bare-aedes.ts')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_BARE_PARSE: parse ? '1' : '0' },
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bare aedes exited with ${code}`)));
    child.on('message', (m: { type: string; port?: number }) => {
      if (m.type === 'listening') resolve(m.port!);
    });
  });
  return {
    name: parse ? 'aedes+JSON.parse' : 'bare aedes',
    mqttPort: port,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    sample: () =>
      new Promise((resolve) => {
        const on = (m: { type: string; messages: number; cpuSeconds: number; rss: number }) => {
          if (m.type !== 'stats') return;
          child.off('message', on);
          resolve({ messages: m.messages, cpuSeconds: m.cpuSeconds, rssBytes: m.rss });
        };
        child.on('message', on);
        child.send('stats');
      }),
    stop: () => kill(child),
  };
}

export interface GatewayOptions {
  readonly influxUrl: string;
  readonly database: string;
  /** YAML of the rules file. */
  readonly rules: string;
  /** Extra `pipeline:` keys (YAML lines, indented by 2), e.g. horizons for the memory scenario. */
  readonly pipeline?: Record<string, string>;
  readonly nodeArgs?: readonly string[];
  /** `durability:` keys, e.g. { checkpointInterval: '1h' } to take checkpoints out of a measurement. */
  readonly durability?: Record<string, string>;
  /** `runtime:` keys, e.g. { heapGrowthPercent: '0' } for V8's own heap sizing. */
  readonly runtime?: Record<string, string>;
  /** Name in the results (default 'gateway'), to tell configurations apart. */
  readonly name?: string;
  /** mqtt.brokerThread (default: BENCH_BROKER_THREAD, else the gateway's default, auto). */
  readonly brokerThread?: 'auto' | 'on' | 'off';
  /** A cluster node (docs/cluster.md) on these NATS servers, with `replicas` copies of each message. */
  readonly cluster?: { readonly servers: readonly string[]; readonly replicas: number; readonly partitions?: number };
  /** Folder of config and state (kept at stop); default a fresh temporary one, removed at stop. */
  readonly dir?: string;
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** The gateway.yaml (and rules.yaml) of a bench gateway in `dir`: default config except ports, paths and `opts`. */
export function writeGatewayConfig(dir: string, opts: GatewayOptions, mqttPort: number, httpPort: number): string {
  const brokerThread = opts.brokerThread ?? process.env.BENCH_BROKER_THREAD;
  // mqtt.sessions of the gateway under test (default: its own default, disk): `memory` measures the broker as it
  // was before sessions went to disk.
  const sessions = process.env.BENCH_SESSIONS;
  const pipeline = Object.entries(opts.pipeline ?? {})
    .map(([k, v]) => `  ${k}: ${v}\n`)
    .join('');
  writeFileSync(join(dir, 'rules.yaml'), opts.rules);
  writeFileSync(
    join(dir, 'gateway.yaml'),
    `gatewayId: bench\nmqtt:\n  host: 127.0.0.1\n  port: ${mqttPort}\n  wsPort: 0\n  maxConnections: 200000\n` +
      (brokerThread ? `  brokerThread: ${brokerThread}\n` : '') +
      (sessions ? `  sessions: ${sessions}\n` : '') +
      `auth:\n  devicesFile: ${join(dir, 'devices.yaml')}\n  anonymous: loopback\n` +
      (pipeline ? `pipeline:\n${pipeline}` : '') +
      `alerts:\n  rulesFile: ${join(dir, 'rules.yaml')}\n` +
      `influx:\n  url: ${opts.influxUrl}\n  database: ${opts.database}\n` +
      (opts.durability
        ? `durability:\n${Object.entries(opts.durability)
            .map(([k, v]) => `  ${k}: ${v}\n`)
            .join('')}`
        : '') +
      (opts.runtime
        ? `runtime:\n${Object.entries(opts.runtime)
            .map(([k, v]) => `  ${k}: ${v}\n`)
            .join('')}`
        : '') +
      (opts.cluster
        ? `cluster:\n  enabled: true\n  nodeId: bench-1\n  nats:\n    servers: [${opts.cluster.servers.join(', ')}]\n  replicas: ${opts.cluster.replicas}\n  partitions: ${opts.cluster.partitions ?? 64}\n`
        : '') +
      `buffer:\n  dir: ${join(dir, 'data')}\nhttp:\n  host: 127.0.0.1\n  port: ${httpPort}\nlog:\n  level: warn\n`,
  );
  return join(dir, 'gateway.yaml');
}

/** The gateway under test: BENCH_GATEWAY_MAIN, another build's main.js (A/B runs of two builds, alternated), else this one's. */
export const GATEWAY_MAIN = process.env.BENCH_GATEWAY_MAIN ?? join(ROOT, 'dist/bundle/main.js');

export async function startGateway(
  opts: GatewayOptions,
): Promise<ServerUnderTest & { health(): Promise<Record<string, unknown>>; metrics(): Promise<string> }> {
  if (!existsSync(GATEWAY_MAIN)) throw new Error(`${GATEWAY_MAIN} is missing: run \`npm run build\` first`);
  // A given folder is kept at stop (the start-up scenario restarts a gateway on the state it left).
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'bench-gw-'));
  const [mqttPort, httpPort] = [await freePort(), await freePort()];
  writeGatewayConfig(dir, opts, mqttPort, httpPort);
  const nodeArgs = opts.nodeArgs ?? (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, GATEWAY_MAIN], {
    cwd: dir,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GATEWAY_CONFIG: join(dir, 'gateway.yaml') },
  });
  const base = `http://127.0.0.1:${httpPort}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/health`)).status < 500) break;
    } catch {
      // not listening yet
    }
    // A restore of a large checkpoint (the memory section: up to 1M sensors) comes before /health answers.
    if (i > 1200) throw new Error('gateway did not start within 120 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const metrics = async () => (await fetch(`${base}/metrics`)).text();
  return {
    name: opts.name ?? 'gateway',
    mqttPort,
    httpPort,
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    metrics,
    health: async () => (await fetch(`${base}/health`)).json() as Promise<Record<string, unknown>>,
    async sample() {
      const text = await metrics();
      return {
        messages: metric(text, 'gateway_messages_received_total'),
        // prom-client's default metrics under our prefix: gateway_process_process_cpu_seconds_total etc.
        cpuSeconds: metric(text, 'gateway_process_process_cpu_seconds_total') || metric(text, 'gateway_process_cpu_seconds_total'),
        rssBytes: metric(text, 'gateway_process_process_resident_memory_bytes') || metric(text, 'gateway_process_resident_memory_bytes'),
        heapUsedBytes: metric(text, 'gateway_process_nodejs_heap_size_used_bytes'),
      };
    },
    async stop() {
      await kill(child, 'SIGTERM', 30_000);
      if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function mosquittoInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v mosquitto || test -x /usr/sbin/mosquitto'], { stdio: 'ignore' }).status === 0;
}

/** Mosquitto with $SYS every second; `messages` reads $SYS/broker/publish/messages/received (1 s resolution). */
export async function startMosquitto(): Promise<ServerUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-mosq-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'mosquitto.conf'),
    `listener ${port} 127.0.0.1\nallow_anonymous true\nsys_interval 1\npersistence false\nlog_dest none\nmax_queued_messages 0\n`,
  );
  const bin = existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';
  const child = spawn(bin, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  let received = 0;
  let at = 0;
  const sys = mqtt.connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 200 });
  sys.on('message', (_t, p) => {
    received = Number(p.toString());
    at = performance.now();
  });
  await new Promise<void>((resolve) => sys.once('connect', () => resolve()));
  await sys.subscribeAsync('$SYS/broker/publish/messages/received');
  const cpuSeconds = () => {
    // utime + stime of the process, in clock ticks (100 Hz on Linux).
    try {
      const stat = spawnSync('cat', [`/proc/${child.pid}/stat`]).stdout.toString();
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { cpu: (Number(f[11]) + Number(f[12])) / 100, rss: Number(f[21]) * 4096 };
    } catch {
      return { cpu: 0, rss: 0 };
    }
  };
  return {
    name: 'mosquitto',
    mqttPort: port,
    async sample() {
      // Wait for the next $SYS update so the count is at most ~1 s old (figures are per 10 s or more).
      const before = at;
      for (let i = 0; i < 30 && at === before; i++) await new Promise((r) => setTimeout(r, 50));
      const { cpu, rss } = cpuSeconds();
      return { messages: received, cpuSeconds: cpu, rssBytes: rss };
    },
    async stop() {
      await sys.endAsync(true);
      await kill(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './influxd.js';
import { testConfigTree } from './gateway.js';
import { waitFor } from './wait.js';

/**
 * The real gateway as a child process: `node dist/bundle/main.js` (the bundled build `npm start` runs) with
 * GATEWAY_CONFIG pointing at a YAML file in the test's folder (run `npm run build` first; `npm test` does). Ports
 * are picked free once per folder and kept across restarts, so MQTT clients reconnect to the same address. Crash
 * tests kill it with SIGKILL. Signal tests start it with `npm start` instead, as the README does (spawnGateway's
 * `npmStart`).
 */
export const MAIN = join(process.cwd(), 'dist/bundle/main.js');

/** Running children, and whether each leads a process group of its own (npm start). */
const live = new Map<ChildProcess, boolean>();
process.once('exit', () => {
  for (const [c, group] of live) {
    if (!group) c.kill('SIGKILL');
    else {
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

/**
 * A package folder (`npm-start/` next to the test's config, removed with it) whose `start` script is the repo's,
 * verbatim (`npm run build && exec node dist/bundle/main.js`), with `dist` linked to the repo's build and a `build`
 * script that only runs a `tsc` that does nothing: `npm start` there runs npm, its `sh -c`, the nested build and the
 * exec exactly as in the repo, without rebuilding dist/ while other test files run their gateways from it.
 */
function npmStartPackage(configFile: string): string {
  const dir = join(dirname(configFile), 'npm-start');
  if (existsSync(join(dir, 'package.json'))) return dir;
  const repo = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8')) as { scripts: { start: string } };
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
  symlinkSync(join(process.cwd(), 'dist'), join(dir, 'dist'));
  writeFileSync(join(dir, 'node_modules/.bin/tsc'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(dir, 'node_modules/.bin/tsc'), 0o755);
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'gateway-npm-start', private: true, type: 'module', scripts: { build: 'tsc', start: repo.scripts.start } }),
  );
  return dir;
}

export interface GatewayProcess {
  readonly pid: number;
  readonly mqttUrl: string;
  readonly httpUrl: string;
  /** stdout (pino JSON lines) and stderr so far. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Signals the spawned process (npm itself with `npmStart`). */
  kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The gateway's own pid: `pid`, or with `npmStart` npm's child (the shell that exec'd node). Linux only (/proc). */
  gatewayPid(): number;
  /** Signals every process of its process group, as a terminal's Ctrl-C or systemd's KillMode=control-group do (`npmStart` only). */
  killGroup(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** A metric's value from /metrics (sum over label sets), or undefined when the gateway does not answer. */
  metric(name: string): Promise<number | undefined>;
}

export type ConfigTree = ReturnType<typeof testConfigTree>;

export interface GatewayFolder {
  readonly dir: string;
  readonly configFile: string;
  readonly mqttPort: number;
  readonly httpPort: number;
}

/** Writes `{dir}/gateway.yaml` (the test config with fixed free ports) and an empty rules file. */
export async function prepareGateway(dir: string, influxUrl: string, overrides: ConfigTree = {}): Promise<GatewayFolder> {
  mkdirSync(dir, { recursive: true });
  const mqttPort = await freePort();
  const httpPort = await freePort();
  const tree = testConfigTree(dir, influxUrl, { ...overrides, log: { level: 'info' } });
  tree['mqtt'] = { ...(tree['mqtt'] as object), port: mqttPort, wsPort: 0 };
  tree['http'] = { ...(tree['http'] as object), port: httpPort };
  for (const [k, v] of Object.entries(overrides)) if (k === 'mqtt' || k === 'http') tree[k] = { ...(tree[k] as object), ...(v as object) };
  const configFile = join(dir, 'gateway.yaml');
  writeFileSync(configFile, stringify(tree));
  const rules = (tree['alerts'] as { rulesFile: string }).rulesFile;
  if (!existsSync(rules)) writeFileSync(rules, 'rules: []\n');
  return { dir, configFile, mqttPort, httpPort };
}

/**
 * Spawns the gateway (`main`: another copy of main.js); with `ready` (default) resolves once /health answers. With
 * `npmStart` it is started as the README says, `npm start` (see npmStartPackage), in a process group of its own, like
 * a terminal's foreground job.
 */
export async function spawnGateway(
  configFile: string,
  opts: {
    ready?: boolean;
    ports?: { mqtt: number; http: number };
    npmStart?: boolean;
    main?: string;
    nodeArgs?: readonly string[];
    env?: Record<string, string>;
  } = {},
): Promise<GatewayProcess> {
  const main = opts.main ?? MAIN;
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const env = { ...process.env, ...opts.env, GATEWAY_CONFIG: configFile };
  const child = opts.npmStart
    ? spawn('npm', ['start'], { cwd: npmStartPackage(configFile), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn(process.execPath, [...(opts.nodeArgs ?? []), main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.set(child, opts.npmStart === true);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  const httpUrl = `http://127.0.0.1:${opts.ports?.http ?? 0}`;
  const gp: GatewayProcess = {
    pid: child.pid!,
    mqttUrl: `mqtt://127.0.0.1:${opts.ports?.mqtt ?? 0}`,
    httpUrl,
    output: () => out,
    exited,
    async kill(signal) {
      if (!gone) child.kill(signal);
      return exited;
    },
    gatewayPid() {
      if (!opts.npmStart) return child.pid!;
      const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      if (kids.length !== 1) throw new Error(`npm (pid ${child.pid}) has ${kids.length} children: ${kids.join(', ')}`);
      return kids[0]!;
    },
    async killGroup(signal) {
      if (!opts.npmStart) throw new Error('killGroup: only a gateway spawned with npmStart has a process group of its own');
      if (!gone) process.kill(-child.pid!, signal);
      return exited;
    },
    async metric(name) {
      try {
        const text = await (await fetch(`${httpUrl}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
        let sum = 0;
        for (const line of text.split('\n'))
          if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
        return sum;
      } catch {
        return undefined;
      }
    },
  };
  if (opts.ready ?? true) {
    await waitFor(
      'the gateway process to answer /health',
      async () => {
        if (gone) throw new Error(`gateway exited early:\n${out.slice(-3000)}`);
        const res = await fetch(`${httpUrl}/health`, { signal: AbortSignal.timeout(1000) });
        await res.arrayBuffer();
        return res.status === 200 || res.status === 503 ? true : undefined;
      },
      30_000,
    );
  }
  return gp;
}

/** prepareGateway's folder as spawn options. */
export const portsOf = (f: GatewayFolder) => ({ mqtt: f.mqttPort, http: f.httpPort });

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Starts a real InfluxDB 1.x (Debian's `influxd`, v1.6) for integration tests: loopback only, free ports,
 * a temporary folder for meta/data/wal, quiet logging. `stop()` + `start()` restart it on the same port with
 * the same data (outage tests); `dispose()` kills it and removes the folder.
 */
export interface InfluxServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts again on the same ports and data; resolves once /ping answers. */
  start(): Promise<void>;
  /** Runs one InfluxQL statement and returns the `results` array of the JSON answer. */
  query(influxql: string, db?: string): Promise<QueryResult[]>;
  /** The values of the first series of the first result, as objects keyed by column (handy in assertions). */
  rows(influxql: string, db?: string): Promise<Record<string, unknown>[]>;
  dispose(): Promise<void>;
  readonly running: boolean;
}

export interface QueryResult {
  statement_id?: number;
  error?: string;
  series?: { name: string; columns: string[]; values: unknown[][]; tags?: Record<string, string> }[];
}

export const INFLUXD = process.env.INFLUXD_BIN ?? '/usr/bin/influxd';

// A test worker that exits without dispose() (a crash, a timeout) must not leave influxd processes behind.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function configText(dir: string, httpPort: number, rpcPort: number): string {
  // Debian's 1.6 reads `reporting-enabled` (not `reporting-disabled`) and ignores unknown keys silently,
  // so every key here was checked against `influxd config`. Everything that logs per request or runs in the
  // background (monitor store, CQs, retention, precreation) is off so the tests are quiet and fast.
  return `reporting-enabled = false
bind-address = "127.0.0.1:${rpcPort}"

[meta]
  dir = "${dir}/meta"
  retention-autocreate = true
  logging-enabled = false

[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  index-version = "inmem"
  query-log-enabled = false
  trace-logging-enabled = false
  wal-fsync-delay = "0s"

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false
  log-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  auth-enabled = false
  log-enabled = false
  suppress-write-log = true
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
`;
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pingOnce(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 204;
  } catch {
    return false;
  }
}

export async function startInfluxd(opts: { startTimeoutMs?: number } = {}): Promise<InfluxServer> {
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  const dir = await mkdtemp(join(tmpdir(), 'influxd-test-'));
  const configFile = join(dir, 'influxdb.conf');
  const logFile = join(dir, 'influxd.log');
  let httpPort = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let disposed = false;

  const spawnOnce = async (): Promise<'ok' | 'port-in-use'> => {
    const fd = openSync(logFile, 'a');
    const proc = spawn(INFLUXD, ['run', '-config', configFile], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child = proc;
    live.add(proc);
    let exitCode: number | null | undefined;
    exited = new Promise<void>((resolve) => {
      proc.once('exit', (code, signal) => {
        live.delete(proc);
        exitCode = code ?? (signal ? -1 : null);
        if (child === proc) child = undefined;
        resolve();
      });
      proc.once('error', () => {
        live.delete(proc);
        exitCode = -2;
        if (child === proc) child = undefined;
        resolve();
      });
    });
    const url = `http://127.0.0.1:${httpPort}`;
    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (exitCode !== undefined) {
        return /address already in use/i.test(tail(logFile, 20)) ? 'port-in-use' : fail(`influxd exited (code ${exitCode})`);
      }
      if (await pingOnce(url)) return 'ok';
      await sleep(50);
    }
    await stop();
    return fail(`influxd did not answer /ping within ${startTimeoutMs} ms`);
  };

  const fail = (msg: string): never => {
    throw new Error(`${msg}; config ${configFile}; log tail:\n${tail(logFile)}`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc) return;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };

  const start = async (): Promise<void> => {
    if (disposed) throw new Error('influxd test server was disposed');
    if (child) return;
    if ((await spawnOnce()) === 'port-in-use') fail(`influxd port ${httpPort} is taken now; cannot restart on the same port`);
  };

  // Ports are picked free and then released, so another process may grab one before influxd binds it; retry.
  for (let attempt = 1; ; attempt++) {
    httpPort = await freePort();
    const rpcPort = await freePort();
    writeFileSync(configFile, configText(dir, httpPort, rpcPort));
    let result: 'ok' | 'port-in-use';
    try {
      result = await spawnOnce();
    } catch (err) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
    if (result === 'ok') break;
    if (attempt >= 5) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw new Error(`influxd: ports kept being taken; log tail:\n${tail(logFile)}`);
    }
  }

  const url = `http://127.0.0.1:${httpPort}`;
  const query = async (influxql: string, db?: string): Promise<QueryResult[]> => {
    const body = new URLSearchParams({ q: influxql, ...(db ? { db } : {}) });
    const res = await fetch(`${url}/query`, { method: 'POST', body });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`influx query failed (${res.status}): ${text}`);
    const json = JSON.parse(text) as { results?: QueryResult[]; error?: string };
    if (json.error) throw new Error(`influx query failed: ${json.error}`);
    for (const r of json.results ?? []) if (r.error) throw new Error(`influx query failed: ${r.error} (${influxql})`);
    return json.results ?? [];
  };

  return {
    url,
    port: httpPort,
    dataDir: dir,
    logFile,
    get running() {
      return child !== undefined;
    },
    stop,
    start,
    query,
    async rows(influxql, db) {
      const series = (await query(influxql, db))[0]?.series?.[0];
      if (!series) return [];
      return series.values.map((v) => Object.fromEntries(series.columns.map((c, i) => [c, v[i]])));
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

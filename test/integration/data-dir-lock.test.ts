import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOLDER_FILE, LOCK_FILE, lockDataDir } from '../../gateway/data-dir/lock.js';
import type { Reading } from '../../gateway/pipeline/types.js';
import { waitFor } from '../support/wait.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { connect, publish } from '../support/mqtt.js';
import { MAIN, portsOf, prepareGateway, spawnGateway } from '../support/process.js';
import { storedWindows, windowMismatches } from '../support/telemetry.js';
import { referenceWindows } from '../support/reference.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A second `node dist/gateway/main.js` with the same config: its exit code and output. */
async function secondStart(configFile: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [MAIN], { env: { ...process.env, GATEWAY_CONFIG: configFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr.on('data', (b: Buffer) => (output += b.toString()));
  // It must exit on its own; one that got past the lock would run until killed.
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, output };
}

/**
 * Name, mode, size, mtime and bytes of every file in a folder and its subfolders (the broker's session store,
 * broker/), and the folders' own mode and mtime. The lock file is only stat'ed: closing a descriptor of it in the
 * process holding the lock would drop the lock (POSIX fcntl).
 */
function folderState(dir: string): { mode: number; mtimeMs: number; files: unknown[] } {
  const d = statSync(dir);
  const files = readdirSync(dir)
    .sort()
    .map((name) => {
      const s = statSync(join(dir, name));
      if (s.isDirectory()) return { name, ...folderState(join(dir, name)) };
      const bytes = name === LOCK_FILE ? undefined : readFileSync(join(dir, name)).toString('base64');
      return { name, mode: s.mode & 0o777, size: s.size, mtimeMs: s.mtimeMs, bytes };
    });
  return { mode: d.mode & 0o777, mtimeMs: d.mtimeMs, files };
}

/** Every file below `dir` (relative paths), and every folder below it. */
function tree(dir: string): { files: string[]; dirs: string[] } {
  const out = { files: [] as string[], dirs: [] as string[] };
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const rel = join(e.parentPath, e.name).slice(dir.length + 1);
    (e.isDirectory() ? out.dirs : out.files).push(rel);
  }
  return out;
}

/**
 * The data folder's lock, with real gateway processes: a second start on a folder in use exits 2 naming the
 * holder and changes nothing; the first keeps every window exact; a SIGKILL leaves no lock behind.
 */
describe('data folder lock', () => {
  let influx: InfluxServer;
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'gw-lock-'));
    dirs.push(d);
    return d;
  };

  beforeAll(async () => {
    influx = await startInfluxd();
  });
  afterAll(async () => {
    await influx?.dispose();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a second start under QoS 0 and QoS 1 load exits 2 naming the folder and the holder; the first stays exact', async () => {
    const f = await prepareGateway(tmp(), influx.url, { gatewayId: 'lock-gw' });
    const data = join(f.dir, 'data');
    const first = await spawnGateway(f.configFile, { ports: portsOf(f) });
    const base = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    const readings: Reading[] = [];
    const stream = async (device: string, qos: 0 | 1) => {
      const client = await connect(first.mqttUrl, { clientId: device });
      for (let i = 0; i < 400; i++) {
        const ts = base + i * 25;
        const value = Math.round(Math.cos(i * 0.37 + qos) * 1e5) / 1e3;
        readings.push({ device, sensor: 'v', ts, value });
        await publish(client, `devices/${device}/telemetry`, JSON.stringify({ ts, seq: i, readings: { v: value } }), qos);
        if (qos === 0) await sleep(5);
      }
      await client.endAsync();
    };
    const streams = Promise.all([stream('lock-q0', 0), stream('lock-q1', 1)]);
    await waitFor('the first instance ingesting', async () => (((await first.metric('gateway_readings_accepted_total')) ?? 0) > 50 ? true : undefined));

    const second = await secondStart(f.configFile);
    expect(second.code, second.output).toBe(2);
    expect(second.output).toContain(`the data folder ${data} (buffer.dir) is in use by gateway process ${first.pid} on `);
    expect(second.output).not.toMatch(/checkpoint|replay|EADDRINUSE/i);

    await streams;
    await waitFor('every reading accepted', async () => ((await first.metric('gateway_readings_accepted_total')) === readings.length ? true : undefined));
    expect(await first.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    // The restart sends the windows the graceful stop kept open.
    const again = await spawnGateway(f.configFile, { ports: portsOf(f) });
    const expected = referenceWindows(readings, 1000);
    const stored = await waitFor('the windows in InfluxDB', async () => {
      const s = await storedWindows(influx, 'lock-gw');
      return s.size >= expected.size ? s : undefined;
    });
    expect(windowMismatches(stored, expected)).toEqual([]);
    expect((await again.kill('SIGTERM')).code).toBe(0);
  });

  it('a start that finds the folder held changes nothing in it', async () => {
    const f = await prepareGateway(tmp(), influx.url, { gatewayId: 'held-gw' });
    const data = join(f.dir, 'data');
    const gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    expect((await gp.kill('SIGTERM')).code).toBe(0);
    // As an older version left it: readable by others (a start holding the lock would tighten it).
    chmodSync(data, 0o755);
    const { files, dirs } = tree(data);
    for (const name of files) chmodSync(join(data, name), 0o644);
    for (const name of dirs) chmodSync(join(data, name), 0o755);
    const lock = lockDataDir(data); // held by this test process
    try {
      const before = folderState(data);
      const second = await secondStart(f.configFile);
      expect(second.code, second.output).toBe(2);
      expect(second.output).toContain(`is in use by gateway process ${process.pid} on `);
      expect(folderState(data)).toEqual(before);
    } finally {
      lock.release();
    }
  });

  it('after a SIGKILL the restart takes the lock (nothing stale); folder 0700, its files 0600', async () => {
    const f = await prepareGateway(tmp(), influx.url, { gatewayId: 'killed-gw', mqtt: { sessions: 'disk' } });
    const data = join(f.dir, 'data');
    const gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    expect(await gp.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const again = await spawnGateway(f.configFile, { ports: portsOf(f) });
    expect(JSON.parse(readFileSync(join(data, HOLDER_FILE), 'utf8'))).toMatchObject({ pid: again.pid });
    expect(statSync(data).mode & 0o777).toBe(0o700);
    const { files, dirs } = tree(data);
    for (const name of [LOCK_FILE, HOLDER_FILE, 'state.db', 'state.db-wal', 'state.db-shm', 'outbox.db', 'outbox.db-wal', 'outbox.db-shm', 'broker/CURRENT'])
      expect(files).toContain(name);
    for (const name of files.filter((n) => !n.startsWith('broker/'))) expect((statSync(join(data, name)).mode & 0o777).toString(8), name).toBe('600');
    // The broker's session store (mqtt.sessions: disk): LevelDB creates its files 0644 as it goes; the folder, 0700,
    // is what keeps others out (files of a previous run are tightened to 0600 at start, data-dir/permissions.ts).
    // rules-history/ keeps the last versions of the rules file (docs/operator-page.md).
    expect(dirs).toEqual(['broker', 'rules-history']);
    for (const dir of dirs) expect((statSync(join(data, dir)).mode & 0o777).toString(8), dir).toBe('700');
    expect((await again.kill('SIGTERM')).code).toBe(0);
  });
});

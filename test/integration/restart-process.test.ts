import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/log.js';
import type { Reading } from '../../gateway/pipeline/types.js';
import { SqliteStateStore } from '../../gateway/state/sqlite-state.js';
import { waitFor } from '../support/wait.js';
import { httpGate } from '../support/http-gate.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { connect, publish } from '../support/mqtt.js';
import { portsOf, prepareGateway, spawnGateway, MAIN } from '../support/process.js';
import { storedWindows, windowMismatches } from '../support/telemetry.js';
import { referenceWindows } from '../support/reference.js';

/**
 * The real gateway process (`node dist/gateway/main.js`, or `npm start`): exit codes of a graceful stop and of a
 * bad config, a stop signalled to npm's whole process group, and a SIGKILL while InfluxDB is down with windows
 * already emitted into the outbox.
 */
describe('gateway process: signals, exit codes, crash with InfluxDB down', () => {
  let influx: InfluxServer;
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'gw-proc-'));
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

  it('SIGTERM: a graceful stop, exit code 0, state checkpointed', async () => {
    const f = await prepareGateway(tmp(), influx.url);
    const gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    const exit = await gp.kill('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(gp.output()).toMatch(/"msg":"stopped"/);
    const state = new SqliteStateStore({ dir: join(f.dir, 'data'), sync: 'normal', log: createLogger('silent') });
    expect(state.load()).toBeDefined(); // the graceful stop is a final checkpoint
    state.close();
  });

  // A terminal's Ctrl-C signals every process of the foreground group (npm and the gateway it execs), and npm
  // forwards what it gets: the gateway receives the signal twice. systemd's KillMode=control-group does the same.
  // A terminal's Ctrl-C signals every process of the foreground group (npm and the gateway it execs), and npm
  // forwards what it gets: the gateway receives the signal twice. systemd's KillMode=control-group does the same.
  // When both copies are pending before the gateway runs, the kernel merges them (standard signals do not queue),
  // so `group` may deliver one or two; `gateway, then npm` sends the terminal's two copies one after the other and
  // always delivers two.
  it.each([
    ['SIGINT', 'group'],
    ['SIGTERM', 'group'],
    ['SIGINT', 'gateway, then npm'],
  ] as const)('npm start, %s to the %s: one graceful stop (exit 0), every open window exact after the restart', async (signal, to) => {
    const gatewayId = `${to === 'group' ? 'group' : 'pair'}-${signal.toLowerCase()}`;
    // InfluxDB behind a gate that answers nothing yet: the graceful stop waits for the outbox write in flight, so the
    // second copy of the signal surely arrives while the gateway is stopping (else it may come after the exit).
    const gate = await httpGate(influx.url);
    try {
      // allowedLateness 10m: no window closes before the stop, so every reading waits in an open window, and QoS 0
      // readings are in no ingest log: only the graceful stop's checkpoint keeps them.
      const f = await prepareGateway(tmp(), gate.url, { gatewayId, pipeline: { allowedLateness: '10m' } });
      const gp = await spawnGateway(f.configFile, { ports: portsOf(f), npmStart: true });
      const client = await connect(gp.mqttUrl, { clientId: `${gatewayId}-pub` });
      const base = Math.floor((Date.now() - 60_000) / 1000) * 1000;
      const readings: Reading[] = [];
      for (const device of ['dev-a', 'dev-b']) {
        for (let i = 0; i < 40; i++) {
          const ts = base + i * 100;
          const temp = Math.round(Math.sin(i + device.length) * 1e5) / 1e3;
          const hum = 40 + (i % 7) / 4;
          readings.push({ device, sensor: 'temp', ts, value: temp }, { device, sensor: 'hum', ts, value: hum });
          await publish(client, `devices/${device}/telemetry`, JSON.stringify({ ts, seq: i, readings: { temp, hum } }), 0);
        }
      }
      await waitFor('every reading accepted', async () => ((await gp.metric('gateway_readings_accepted_total')) === readings.length ? true : undefined));
      expect(await gp.metric('gateway_windows_emitted_total')).toBe(0);
      await client.endAsync(true);
      await waitFor('an outbox write in flight (its own stats)', () => (gate.received() > 0 ? true : undefined));

      const again = /"msg":"signal received again: already stopping/;
      let exit;
      if (to === 'group') {
        exit = gp.killGroup(signal);
        await waitFor('a second copy of the signal', () => (again.test(gp.output()) ? true : undefined), 3000).catch(() => undefined);
      } else {
        process.kill(gp.gatewayPid(), signal);
        await waitFor('the gateway stopping', () => (/"msg":"stopping: /.test(gp.output()) ? true : undefined));
        exit = gp.kill(signal); // npm forwards it
        await waitFor('the second copy of the signal', () => (again.test(gp.output()) ? true : undefined));
      }
      gate.open();
      expect(await exit, gp.output().slice(-2000)).toEqual({ code: 0, signal: null }); // npm exits with the gateway's code
      expect(gp.output()).toMatch(/"msg":"stopped"/);

      // Restarted with the default lateness: the restored windows close at once and go to InfluxDB.
      const g = await prepareGateway(f.dir, gate.url, { gatewayId });
      const restarted = await spawnGateway(g.configFile, { ports: portsOf(g) });
      const expected = referenceWindows(readings, 1000);
      const stored = await waitFor('the windows in InfluxDB', async () => {
        const s = await storedWindows(influx, gatewayId);
        return s.size >= expected.size ? s : undefined;
      });
      expect(windowMismatches(stored, expected)).toEqual([]);
      expect((await restarted.kill('SIGTERM')).code).toBe(0);
    } finally {
      await gate.close();
    }
  });

  it('a bad config: exit code 2 and a message naming the key path', async () => {
    const dir = tmp();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'pipeline:\n  interval: 10 parsecs\ndurability:\n  colour: red\n');
    const child = spawn(process.execPath, [MAIN], { env: { ...process.env, GATEWAY_CONFIG: file }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toMatch(/pipeline\.interval: not a duration/);
    expect(err).toMatch(/durability: unknown key\(s\): colour/);
  });

  it('an invalid devices file: exit code 2 and a message naming the file, line and problem', async () => {
    const dir = tmp();
    const devices = join(dir, 'devices.yaml');
    writeFileSync(devices, 'devices:\n  - id: "not a valid id"\n');
    const file = join(dir, 'gw.yaml');
    writeFileSync(
      file,
      `auth:\n  devicesFile: ${JSON.stringify(devices)}\nbuffer:\n  dir: ${JSON.stringify(join(dir, 'data'))}\nmqtt:\n  port: 0\n  wsPort: 0\nhttp:\n  port: 0\n`,
    );
    const child = spawn(process.execPath, [MAIN], { env: { ...process.env, GATEWAY_CONFIG: file }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toMatch(/invalid devices file/);
    expect(err).toContain(`${devices}:2:`);
  });

  it('SIGKILL with InfluxDB down: every window emitted into the outbox arrives after the restart, exact', async () => {
    await influx.stop();
    const f = await prepareGateway(tmp(), influx.url, { gatewayId: 'crash-gw' });
    const gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    const client = await connect(gp.mqttUrl, { clientId: 'crash-dev' });
    const base = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    const readings: Reading[] = [];
    for (let i = 0; i < 120; i++) {
      const ts = base + i * 50;
      const value = Math.round(Math.sin(i) * 1e5) / 1e3;
      readings.push({ device: 'crash-dev', sensor: 'temp', ts, value });
      await publish(client, 'devices/crash-dev/telemetry', JSON.stringify({ ts, seq: i, readings: { temp: value } }));
    }
    const expected = referenceWindows(readings, 1000);
    // Idle close + outbox flush: all 6 windows emitted and committed to outbox.db (InfluxDB is down).
    await waitFor('windows in the outbox', async () => ((await gp.metric('gateway_outbox_points')) ?? 0) >= expected.size || undefined);
    await client.endAsync(true);
    expect(await gp.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

    await influx.start();
    const again = await spawnGateway(f.configFile, { ports: portsOf(f) });
    const stored = await waitFor('the windows in InfluxDB', async () => {
      const s = await storedWindows(influx, 'crash-gw');
      return s.size >= expected.size ? s : undefined;
    });
    expect(stored.size).toBe(expected.size);
    for (const [key, ref] of expected) {
      const got = stored.get(key)!;
      expect({ mean: got.mean, min: got.min, max: got.max, first: got.first, last: got.last, count: got.count }, key).toEqual(ref);
    }
    expect((await again.kill('SIGTERM')).code).toBe(0);
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/influxd.js';
import { connect } from '../support/mqtt.js';
import { portsOf, prepareGateway, spawnGateway, type ConfigTree } from '../support/process.js';

const TRACE_HOOK = join(process.cwd(), 'test/support/module-trace.mjs');

/**
 * Start-up to the first CONNACK (BENCHMARKS.md, start-up): what only a part of the configuration uses is not
 * loaded without it. The real gateway process (the bundled build, dist/bundle/, as `npm start` runs it) runs with a
 * resolve hook that records every module each thread resolves (test/support/module-trace.mjs); the trace is read
 * once it answered /health and a device. The bundle keeps the libraries these checks name outside it (package.json
 * `bundle`, `--external`), so each still resolves as a module of its own, when and where it is loaded; the cluster's
 * own code sits in a chunk of the bundle, and is seen through its NATS client, @nats-io.
 */
describe('gateway start-up: modules loaded', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts the gateway with `overrides`, connects a device, stops it (SIGTERM): the modules each thread resolved. */
  async function modulesOf(overrides: ConfigTree): Promise<{ main: string[]; worker: string[]; exit: number | null }> {
    dir = mkdtempSync(join(tmpdir(), 'gw-modules-'));
    const traceFile = join(dir, 'modules.txt');
    const folder = await prepareGateway(join(dir, 'gw'), 'http://127.0.0.1:9', overrides);
    const gw = await spawnGateway(folder.configFile, { ports: portsOf(folder), nodeArgs: ['--import', TRACE_HOOK], env: { MODULE_TRACE_FILE: traceFile } });
    const device = await connect(`mqtt://127.0.0.1:${folder.mqttPort}`, { clientId: 'modules-probe' });
    await device.endAsync();
    const { code } = await gw.kill('SIGTERM');
    const lines = readFileSync(traceFile, 'utf8').trim().split('\n');
    const of = (thread: string) => lines.filter((l) => l.startsWith(`${thread} `)).map((l) => l.slice(thread.length + 1));
    return { main: of('main'), worker: of('worker'), exit: code };
  }
  const loads = (urls: readonly string[], part: string) => urls.some((u) => u.includes(part));

  it('memory sessions, no WebSocket listener, no cluster: no LevelDB, ws or NATS module; aedes only on the broker thread', async () => {
    const m = await modulesOf({ mqtt: { brokerThread: 'on', sessions: 'memory', wsPort: 0 } });
    expect(m.exit).toBe(0);
    const all = [...m.main, ...m.worker];
    expect(loads(m.worker, '/node_modules/aedes/')).toBe(true); // the trace sees the broker thread
    expect(loads(m.main, '/node_modules/aedes/')).toBe(false);
    expect(loads(all, '/node_modules/classic-level/')).toBe(false);
    expect(loads(all, '/node_modules/aedes-persistence-level/')).toBe(false);
    expect(loads(all, '/node_modules/ws/')).toBe(false);
    expect(loads(all, '/node_modules/@nats-io/')).toBe(false);
  }, 60_000);

  it('disk sessions and a WebSocket listener load their modules on the broker thread', async () => {
    const m = await modulesOf({ mqtt: { brokerThread: 'on', sessions: 'disk', wsPort: await freePort() } });
    expect(m.exit).toBe(0);
    expect(loads(m.worker, '/node_modules/classic-level/')).toBe(true);
    expect(loads(m.worker, '/node_modules/ws/')).toBe(true);
  }, 60_000);

  it('mqtt.brokerThread off: aedes runs on the main thread (the broker thread main.ts started is not used), the stop is clean', async () => {
    const m = await modulesOf({ mqtt: { brokerThread: 'off' } });
    expect(m.exit).toBe(0);
    expect(loads(m.main, '/node_modules/aedes/')).toBe(true);
  }, 60_000);
});

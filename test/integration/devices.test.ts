import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../gateway/auth/password.js';
import { freePort, startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connackCode, connect } from '../support/mqtt.js';
import { devicesCli } from '../support/devices-cli.js';
import { makeCerts, type TestCerts, tlsListener } from '../support/tls-certs.js';

/**
 * Devices end to end: real aedes through buildGateway, real MQTT.js clients over TCP, TLS and WebSocket, the
 * devices CLI run as a child process against the running gateway's registry file, and a real InfluxDB. TLS with
 * required client certificates, and the count of failed handshakes: devices-mtls.test.ts.
 */

function lastJsonLine(stdout: string): { id: string; password: string } {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as { id: string; password: string };
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

const telemetry = (ts: number, readings: Record<string, number>) => JSON.stringify({ ts, readings });

// Authentication and ACL run where aedes runs (mqtt.brokerThread): on its own thread, and in the gateway's thread.
describe.each(['on', 'off'] as const)('devices: registry, authentication, ACL and transports (brokerThread %s)', (brokerThread) => {
  let influx: InfluxServer;
  let tg: TestGateway;
  let dir: string;
  let devicesFile: string;
  let certs: TestCerts;
  const SECRET = 'gh-1-secret-for-tests';
  const clients: MqttClient[] = [];
  const track = (c: MqttClient) => (clients.push(c), c);

  beforeAll(async () => {
    influx = await startInfluxd();
    dir = mkdtempSync(join(tmpdir(), 'gw-devices-'));
    certs = makeCerts(dir);
    devicesFile = join(dir, 'devices.yaml');
    writeFileSync(
      devicesFile,
      [
        'devices:',
        '  - id: gh-1',
        `    passwordHash: ${await hashSecret(SECRET)}`,
        '    tags: { site: north, room: r1 }',
        '  - id: gh-2',
        `    passwordHash: ${await hashSecret('gh-2-secret')}`,
        '  - id: gh-cert',
        '    tags: { site: south }',
        '',
      ].join('\n'),
    );
    tg = await startTestGateway({
      influxUrl: influx.url,
      dir,
      rules: 'rules: []\n',
      overrides: {
        mqtt: {
          host: '127.0.0.1',
          port: 0,
          wsPort: await freePort(),
          tls: tlsListener(dir, false),
          brokerThread,
        },
        auth: { devicesFile, anonymous: 'deny' },
      },
    });
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    await tg?.stop();
    await influx?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong secret and an unknown device with 4, and an anonymous client under `deny` with 5', async () => {
    expect(await connackCode(tg.mqttUrl, { clientId: 'a', username: 'gh-1', password: 'wrong' })).toBe(4);
    expect(await connackCode(tg.mqttUrl, { clientId: 'b', username: 'ghost', password: SECRET })).toBe(4);
    expect(await connackCode(tg.mqttUrl, { clientId: 'c' })).toBe(5);
    expect(await connackCode(tg.mqttUrl, { clientId: 'd', username: 'gh-1', password: SECRET })).toBe(0);
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'bad_password' })).toBe(1);
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'unknown_device' })).toBe(1);
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'anonymous_refused' })).toBe(1);
  });

  it('does not let a device publish as another (disconnects it) nor subscribe to others (QoS 128)', async () => {
    const received = await metricValue(tg.gw, 'messagesReceived');
    const gh1 = track(await connect(tg.mqttUrl, { clientId: 'gh-1-acl', username: 'gh-1', password: SECRET }));
    // MQTT.js reports a SUBACK with a refused filter as an error that carries the packet.
    const suback = await gh1.subscribeAsync(['devices/gh-2/#', 'alerts/gh-1/#'], { qos: 1 }).then(
      () => undefined,
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );
    expect(suback).toEqual([128, 1]);
    const gone = closed(gh1);
    gh1.publish('devices/gh-2/telemetry', telemetry(Date.now(), { temperature: 99 }), { qos: 1 });
    await gone;
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'publish_denied' })).toBe(1);
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'subscribe_denied' })).toBe(1);
    expect(await metricValue(tg.gw, 'messagesReceived')).toBe(received);
  });

  it('carries readings over TCP, TLS (password and client certificate) and WebSocket into InfluxDB, with registry tags', async () => {
    const tlsUrl = `mqtts://127.0.0.1:${tg.gw.ports.tls}`;
    const wsUrl = `ws://127.0.0.1:${tg.gw.ports.ws}`;
    const tcp = track(await connect(tg.mqttUrl, { clientId: 'gh-1-tcp', username: 'gh-1', password: SECRET }));
    const tlsPassword = track(await connect(tlsUrl, { clientId: 'gh-2-tls', username: 'gh-2', password: 'gh-2-secret', ca: certs.ca }));
    const tlsCert = track(await connect(tlsUrl, { clientId: 'gh-cert', ca: certs.ca, ...certs.clientCert('gh-cert') }));
    const ws = track(await connect(wsUrl, { clientId: 'gh-1-ws', username: 'gh-1', password: SECRET }));
    const ts = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    await tcp.publishAsync('devices/gh-1/telemetry', telemetry(ts, { temperature: 21.5 }), { qos: 1 });
    await ws.publishAsync('devices/gh-1/telemetry', telemetry(ts + 1000, { humidity: 40 }), { qos: 1 });
    await tlsPassword.publishAsync('devices/gh-2/sensors/pressure', JSON.stringify({ ts, value: 1013 }), { qos: 1 });
    await tlsCert.publishAsync('devices/gh-cert/telemetry', telemetry(ts, { co2: 420 }), { qos: 1 });

    type Row = { time: string; device: string; sensor: string; site?: string; room?: string; mean: number };
    const rows = await waitFor('four series in InfluxDB', async () => {
      const r = await influx.query(`SELECT "mean" FROM "telemetry" WHERE "gateway" = 'test-gw' GROUP BY *`, 'iot');
      const out: Row[] = (r[0]?.series ?? []).flatMap((s) =>
        s.values.map((v) => ({ ...(s.tags as Record<string, string>), time: String(v[0]), mean: v[1] as number }) as unknown as Row),
      );
      return out.length >= 4 ? out : undefined;
    });
    const bySeries = Object.fromEntries(rows.map((r) => [`${r.device}/${r.sensor}`, r]));
    expect(bySeries['gh-1/temperature']).toMatchObject({ mean: 21.5, site: 'north', room: 'r1' });
    expect(bySeries['gh-1/humidity']).toMatchObject({ mean: 40, site: 'north', room: 'r1' });
    expect(bySeries['gh-2/pressure']).toMatchObject({ mean: 1013 });
    expect(bySeries['gh-2/pressure']!.site ?? '').toBe('');
    expect(bySeries['gh-cert/co2']).toMatchObject({ mean: 420, site: 'south' });
  });

  it('refuses certificates of unregistered devices and certificates not signed by the CA', async () => {
    const tlsUrl = `mqtts://127.0.0.1:${tg.gw.ports.tls}`;
    expect(await connackCode(tlsUrl, { clientId: 's', ca: certs.ca, ...certs.clientCert('stranger') })).toBe(5);
    // A self-signed certificate with a registered CN is not verified, so it is no identity: anonymous -> refused.
    expect(await connackCode(tlsUrl, { clientId: 'r', ca: certs.ca, ...certs.clientCert('rogue') })).toBe(5);
    // A certificate for one device does not let its holder log in as another.
    expect(await connackCode(tlsUrl, { clientId: 'x', ca: certs.ca, ...certs.clientCert('gh-cert'), username: 'gh-1', password: SECRET })).toBe(5);
  });

  it('accepts a device added with the CLI while the gateway runs, and disconnects it on rotate and remove', async () => {
    const registered = async () => ((await (await fetch(`${tg.httpUrl}/health`)).json()) as { devices: { registered: number } }).devices.registered;
    const before = await registered();
    const added = devicesCli(devicesFile, 'add', 'new-dev', '--tag', 'site=east');
    expect(added.status).toBe(0);
    const { id, password } = lastJsonLine(added.stdout);
    expect(id).toBe('new-dev');
    expect(readFileSync(devicesFile, 'utf8')).not.toContain(password);

    await waitFor('/health to count the new device', async () => ((await registered()) === before + 1 ? true : undefined));
    const dev = track(
      await waitFor(
        'the new device to be accepted',
        () => connect(tg.mqttUrl, { clientId: 'new-dev', username: id, password }).catch(() => undefined),
        20_000,
        100,
      ),
    );
    await dev.publishAsync('devices/new-dev/telemetry', telemetry(Date.now(), { temperature: 1 }), { qos: 1 });

    const rotatedAway = closed(dev);
    const rotated = devicesCli(devicesFile, 'rotate', 'new-dev');
    expect(rotated.status).toBe(0);
    await rotatedAway;
    expect(await connackCode(tg.mqttUrl, { clientId: 'new-dev', username: id, password })).toBe(4);
    const fresh = lastJsonLine(rotated.stdout).password;
    const again = track(await connect(tg.mqttUrl, { clientId: 'new-dev', username: id, password: fresh }));

    const removedAway = closed(again);
    expect(devicesCli(devicesFile, 'remove', 'new-dev').status).toBe(0);
    await removedAway;
    expect(await connackCode(tg.mqttUrl, { clientId: 'new-dev', username: id, password: fresh })).toBe(4);
    // /health counts the gateway thread's copy of the registry; with the broker thread, the copy that closed the
    // connection is that thread's, reloaded by its own watcher: the gateway's may reload a little later.
    await waitFor('/health to count the device removed', async () => ((await registered()) === before ? true : undefined));
  });

  it("lets a device take its own session over but not another device's client id", async () => {
    const first = track(await connect(tg.mqttUrl, { clientId: 'sess-1', username: 'gh-1', password: SECRET }));
    const firstGone = closed(first);
    track(await connect(tg.mqttUrl, { clientId: 'sess-1', username: 'gh-1', password: SECRET }));
    await firstGone;
    expect(await connackCode(tg.mqttUrl, { clientId: 'sess-1', username: 'gh-2', password: 'gh-2-secret' })).toBe(2);
    await waitFor('takeover logged', () =>
      tg.logLines().some((l) => l['msg'] === 'client id taken over by a new connection' && l['clientId'] === 'sess-1') ? true : undefined,
    );
  });

  it('keeps the registry when the file becomes invalid, and logs why', async () => {
    const good = readFileSync(devicesFile, 'utf8');
    writeFileSync(devicesFile, `${good}  - id: "bad id"\n`);
    await waitFor('invalid file logged', () =>
      tg.logLines().some((l) => l['msg'] === 'devices file invalid: keeping the previous registry') ? true : undefined,
    );
    expect(await connackCode(tg.mqttUrl, { clientId: 'still', username: 'gh-1', password: SECRET })).toBe(0);
    writeFileSync(devicesFile, good);
  });
});

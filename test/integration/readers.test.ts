import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../gateway/auth/password.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect } from '../support/mqtt.js';
import { baseTs, sendReading } from './alerts-helpers.js';

/**
 * Readers (registry `role: reader`, gateway/auth/roles.ts) end to end: a dashboard credential made with the devices
 * CLI, under `auth.anonymous: deny`, subscribes to alerts/# and devices/#, receives a retained alert raised by a
 * real reading, and can publish nothing. Both broker placements (mqtt.brokerThread on and off).
 */
const RULES = `rules:
  - name: frost
    match: { device: "gh-*", sensor: temperature }
    below: 0
`;

function devicesCli(file: string, ...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'devices/cli.ts', '--file', file, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const closed = (c: MqttClient) => new Promise<void>((resolve) => c.once('close', () => resolve()));

/** The granted QoS list of a SUBACK (MQTT.js rejects a SUBACK with a refusal, carrying the packet). */
function granted(c: MqttClient, filters: string[]): Promise<number[] | undefined> {
  return c.subscribeAsync(filters, { qos: 1 }).then(
    (grants) => grants.map((g) => g.qos),
    (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
  );
}

describe.each(['on', 'off'] as const)('readers: dashboards with a credential (brokerThread %s)', (brokerThread) => {
  let influx: InfluxServer;
  let tg: TestGateway;
  let dir: string;
  let devicesFile: string;
  let reader: { id: string; password: string };
  const clients: MqttClient[] = [];
  const track = (c: MqttClient) => (clients.push(c), c);

  beforeAll(async () => {
    influx = await startInfluxd();
    dir = mkdtempSync(join(tmpdir(), 'gw-readers-'));
    devicesFile = join(dir, 'devices.yaml');
    writeFileSync(devicesFile, ['devices:', '  - id: gh-1', `    passwordHash: ${await hashSecret('gh-1-secret')}`, ''].join('\n'));
    const added = devicesCli(devicesFile, 'add', 'dashboard', '--role', 'reader');
    expect(added.status, added.stderr).toBe(0);
    const lines = added.stdout.trim().split('\n');
    reader = JSON.parse(lines[lines.length - 1]!) as { id: string; password: string };
    expect(Object.keys(reader)).toEqual(['id', 'password']);
    expect(readFileSync(devicesFile, 'utf8')).toMatch(/- id: dashboard\n\s+role: reader\n\s+passwordHash: /);
    tg = await startTestGateway({
      influxUrl: influx.url,
      dir,
      rules: RULES,
      overrides: { mqtt: { host: '127.0.0.1', port: 0, wsPort: 0, brokerThread }, auth: { devicesFile, anonymous: 'deny' } },
    });
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    await tg?.stop();
    await influx?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a reader subscribes to alerts/# under anonymous: deny and receives the retained alert', async () => {
    const device = track(await connect(tg.mqttUrl, { clientId: 'gh-1', username: 'gh-1', password: 'gh-1-secret' }));
    await sendReading(device, 'gh-1', 'temperature', baseTs(10_000), -3);
    // The alert is raised before the reader connects: only the retained message can reach it.
    await waitFor('frost fired', async () => ((await metricValue(tg.gw, 'alertsFired')) >= 1 ? true : undefined));

    const dash = track(await connect(tg.mqttUrl, { clientId: 'dash-1', username: reader.id, password: reader.password }));
    const got: { topic: string; retain: boolean; body: Record<string, unknown> }[] = [];
    dash.on('message', (topic, payload, packet) => got.push({ topic, retain: packet.retain, body: JSON.parse(payload.toString()) as Record<string, unknown> }));
    expect(await granted(dash, ['alerts/#', 'devices/#'])).toEqual([1, 1]);
    const alert = await waitFor('retained alert', () => got.find((m) => m.topic === 'alerts/gh-1/temperature/frost'));
    expect(alert.retain).toBe(true);
    expect(alert.body).toMatchObject({ device: 'gh-1', sensor: 'temperature', rule: 'frost', state: 'firing', value: -3 });

    // It reads the live device stream too.
    await sendReading(device, 'gh-1', 'humidity', baseTs(9_000), 40);
    await waitFor('device reading', () => got.find((m) => m.topic === 'devices/gh-1/sensors/humidity'));
  });

  it('refuses a reader other trees and shared subscriptions (SUBACK 0x80), and anonymous clients; grants spBv1.0/#', async () => {
    const dash = track(await connect(tg.mqttUrl, { clientId: 'dash-2', username: reader.id, password: reader.password }));
    const refusedBefore = await metricValue(tg.gw, 'authFailures', { reason: 'subscribe_denied' });
    expect(await granted(dash, ['#', '$SYS/#', '$share/dashboards/alerts/#', 'alerts/gh-1/+/frost', 'spBv1.0/#'])).toEqual([128, 128, 128, 1, 1]);
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'subscribe_denied' })).toBe(refusedBefore + 3);
    await expect(connect(tg.mqttUrl, { clientId: 'anon' })).rejects.toMatchObject({ code: 5 });
  });

  it('a reader cannot publish: not a reading, not an alert (MQTT 3.1.1: the connection is closed, counted)', async () => {
    const received = await metricValue(tg.gw, 'messagesReceived');
    const denied = await metricValue(tg.gw, 'authFailures', { reason: 'publish_denied' });
    const watcher = track(await connect(tg.mqttUrl, { clientId: 'dash-3', username: reader.id, password: reader.password }));
    const seen: string[] = [];
    watcher.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await granted(watcher, ['alerts/#', 'devices/#']);

    for (const topic of ['devices/gh-1/sensors/temperature', 'alerts/gh-1/temperature/frost']) {
      const forger = track(await connect(tg.mqttUrl, { clientId: `forger-${topic.length}`, username: reader.id, password: reader.password }));
      const gone = closed(forger);
      forger.publish(topic, JSON.stringify({ ts: baseTs(5_000), value: 99 }), { qos: 1, retain: true });
      await gone;
    }
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'publish_denied' })).toBe(denied + 2);
    expect(await metricValue(tg.gw, 'messagesReceived')).toBe(received);
    // A fresh subscriber still sees the gateway's retained alert, not the forged one.
    const late = track(await connect(tg.mqttUrl, { clientId: 'dash-4', username: reader.id, password: reader.password }));
    const retained: string[] = [];
    late.on('message', (_t, payload) => retained.push(payload.toString()));
    await granted(late, ['alerts/gh-1/temperature/frost']);
    await waitFor('retained alert', () => retained[0]);
    expect(JSON.parse(retained[0]!)).toMatchObject({ state: 'firing', value: -3 });
    expect(seen.filter((s) => s.includes('"value":99'))).toEqual([]);
  });

  it('checks a will at CONNECT against the publish rules (wills are stored with the session): 5 when not allowed', async () => {
    const denied = await metricValue(tg.gw, 'authFailures', { reason: 'publish_denied' });
    const will = (topic: string) => ({ topic, payload: Buffer.from('gone'), qos: 1 as const, retain: true });
    const device = { username: 'gh-1', password: 'gh-1-secret' };
    await expect(connect(tg.mqttUrl, { clientId: 'w1', ...device, will: will('alerts/gh-1/temperature/frost') })).rejects.toMatchObject({ code: 5 });
    await expect(connect(tg.mqttUrl, { clientId: 'w2', ...device, will: will('devices/other/status') })).rejects.toMatchObject({ code: 5 });
    await expect(
      connect(tg.mqttUrl, { clientId: 'w3', username: reader.id, password: reader.password, will: will('devices/gh-1/status') }),
    ).rejects.toMatchObject({ code: 5 });
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'publish_denied' })).toBe(denied + 3);
    const ok = track(await connect(tg.mqttUrl, { clientId: 'w4', ...device, will: will('devices/gh-1/status') }));
    expect(ok.connected).toBe(true);
  });
});

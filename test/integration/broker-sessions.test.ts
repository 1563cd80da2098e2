import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/wait.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { connect } from '../support/mqtt.js';
import { portsOf, prepareGateway, spawnGateway } from '../support/process.js';

/**
 * Persistent sessions and retained messages across a restart of the real gateway process (mqtt.sessions: disk,
 * broker/persistence/open.ts): a clean=false subscriber [MQTT-3.1.2-4] that is away while QoS 1 messages are
 * published gets every one of them when it comes back [MQTT-3.1.2-5], after a graceful stop (SIGTERM) and after a
 * SIGKILL, with the broker on its own thread and in the gateway's thread; a retained message on a topic the
 * gateway does not republish itself is still there.
 */

/** Connects with a 'message' listener in place before CONNACK, so queued messages sent right after it are seen. */
async function subscriberSession(url: string, opts: IClientOptions, got: string[]): Promise<{ client: MqttClient; sessionPresent: boolean }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  client.on('message', (_topic, payload) => got.push(payload.toString()));
  const sessionPresent = await new Promise<boolean>((resolve, reject) => {
    client.once('connect', (ack) => resolve(ack.sessionPresent));
    client.once('error', reject);
  });
  return { client, sessionPresent };
}

describe.each([
  ['SIGTERM', 'on'],
  ['SIGKILL', 'on'],
  ['SIGKILL', 'off'],
] as const)('broker sessions across a %s (brokerThread %s)', (signal, brokerThread) => {
  let influx: InfluxServer;
  let dir: string;

  beforeAll(async () => {
    influx = await startInfluxd();
    dir = mkdtempSync(join(tmpdir(), 'gw-sessions-'));
  });
  afterAll(async () => {
    await influx?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a clean=false subscriber gets the QoS 1 messages queued while it was away; retained messages survive', async () => {
    const f = await prepareGateway(dir, influx.url, { mqtt: { brokerThread, sessions: 'disk' } });
    let gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    const url = gp.mqttUrl;
    const sub = { clientId: 'dashboard-1', clean: false } as const;

    const first: string[] = [];
    const s1 = await subscriberSession(url, sub, first);
    expect(s1.sessionPresent).toBe(false);
    await s1.client.subscribeAsync('devices/gh-1/#', { qos: 1 });
    await s1.client.endAsync();

    // aedes routes a QoS 1 publish in series: retained store, offline queues, then online subscribers
    // (publishFuncsQoS in aedes.js). So once this live subscriber has a message, it is in the stored queues too. The
    // publisher's PUBACK comes before all that (docs/mqtt.md: the window of a SIGKILL right after a PUBACK).
    const routed: string[] = [];
    const watcher = await subscriberSession(url, { clientId: 'watcher', clean: true }, routed);
    await watcher.client.subscribeAsync('devices/gh-1/#', { qos: 1 });

    // Away: readings (ingest topics, acknowledged once logged) and a retained status (routed only).
    const device = await connect(url, { clientId: 'gh-1' });
    const ts = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    const sent: string[] = [];
    for (let i = 0; i < 25; i++) {
      const body = JSON.stringify({ ts: ts + i * 10, value: i });
      await device.publishAsync('devices/gh-1/sensors/temperature', body, { qos: 1 });
      sent.push(body);
    }
    await device.publishAsync('devices/gh-1/status', 'online', { qos: 1, retain: true });
    sent.push('online');
    await device.endAsync();
    await waitFor('every message routed', () => (routed.length >= sent.length ? true : undefined));
    await watcher.client.endAsync();

    const exit = await gp.kill(signal);
    expect(exit.signal === signal || exit.code === 0).toBe(true);
    gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    try {
      const store = statSync(join(f.dir, 'data', 'broker'));
      expect(store.mode & 0o777).toBe(0o700);

      const again: string[] = [];
      const s2 = await subscriberSession(url, sub, again);
      expect(s2.sessionPresent).toBe(true);
      await waitFor('every queued message', () => (again.length >= sent.length ? true : undefined));
      expect([...again].sort()).toEqual([...sent].sort());
      // Acknowledged now: not delivered a second time to the next connection of the session.
      await s2.client.endAsync();
      const third: string[] = [];
      const s3 = await subscriberSession(url, sub, third);
      const marker = await connect(url, { clientId: 'gh-1b' });
      await marker.publishAsync('devices/gh-1/marker', 'after', { qos: 1 });
      await marker.endAsync();
      await waitFor('the marker', () => (third.includes('after') ? true : undefined));
      expect(third).toEqual(['after']);
      await s3.client.endAsync();

      // A new subscriber gets the retained status from before the restart.
      const late: string[] = [];
      const l = await subscriberSession(url, { clientId: 'late', clean: true }, late);
      await l.client.subscribeAsync('devices/gh-1/status', { qos: 1 });
      await waitFor('retained status', () => (late.length > 0 ? true : undefined));
      expect(late).toEqual(['online']);
      await l.client.endAsync();
    } finally {
      await gp.kill('SIGTERM');
    }
  });
});

import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as mqttConnect, type IPublishPacket, type MqttClient } from 'mqtt';
import { freePort } from '../support/influxd.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';
import { clusterOverrides, startClusterGateway } from '../support/cluster.js';
import { connect, publish } from '../support/mqtt.js';
import { MOSQUITTO_PUB, MOSQUITTO_SUB, runClient } from '../support/run-client.js';
import { waitFor } from '../support/wait.js';

const portOf = (url: string) => new URL(url).port;

/** Sum of one metric's samples in a gateway's /metrics text, for one label set. */
async function metric(httpUrl: string, line: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(line))
    .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** The messages a client receives, as they arrive. */
function collect(client: MqttClient): { topic: string; payload: string; qos: number; retain: boolean }[] {
  const got: { topic: string; payload: string; qos: number; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet: IPublishPacket) => got.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }));
  return got;
}

/**
 * Client-to-client publishes on non-ingest topics cross gateways (gateway/cluster/relay.ts, docs/cluster.md): two
 * gateways on a three-node NATS cluster, clients written by others (mosquitto_pub, mosquitto_sub) and MQTT.js.
 * No InfluxDB: nothing here is ingest (the outbox holds nothing).
 */
describe('cluster relay: client publishes reach subscribers on the other gateway', () => {
  let nats: NatsCluster;
  let a: TestGateway;
  let b: TestGateway;
  let influxUrl: string;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    nats = await startNatsCluster(3);
    influxUrl = `http://127.0.0.1:${await freePort()}`;
    // A runs aedes in its own thread (the relay hook in in-process.ts), B on the broker thread (broker-worker.ts).
    a = await startTestGateway({
      influxUrl,
      overrides: { gatewayId: 'cl-gw', cluster: clusterOverrides('gw-a', nats.urls), mqtt: { brokerThread: 'off' } },
    });
    b = await startClusterGateway(influxUrl, 'gw-b', nats.urls);
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync().catch(() => undefined);
    await a?.dispose();
    await b?.dispose();
    await nats?.stop();
  });

  it('a QoS 1 publish on A reaches a subscriber on B at QoS 1, and a subscriber on A once', async () => {
    const onB = await connect(b.mqttUrl, { clientId: 'sub-b' });
    const onA = await connect(a.mqttUrl, { clientId: 'sub-a' });
    const pubB = await connect(b.mqttUrl, { clientId: 'pub-b' });
    clients.push(onB, onA, pubB);
    const gotB = collect(onB);
    const gotA = collect(onA);
    await onB.subscribeAsync('devices/dev1/commands/#', { qos: 1 });
    await onA.subscribeAsync('devices/dev1/commands/#', { qos: 1 });
    // mosquitto_pub exits 0 once the PUBACK came back (A acknowledges after the NATS server confirmed the relay).
    const sent = await runClient(MOSQUITTO_PUB, [
      '-h',
      '127.0.0.1',
      '-p',
      portOf(a.mqttUrl),
      '-i',
      'mq-pub',
      '-q',
      '1',
      '-t',
      'devices/dev1/commands/reboot',
      '-m',
      'now',
    ]);
    expect(sent.code, sent.out).toBe(0);
    await waitFor('the command on B', () => gotB.some((m) => m.topic === 'devices/dev1/commands/reboot'), 20_000);
    expect(gotB.filter((m) => m.topic === 'devices/dev1/commands/reboot')).toEqual([
      { topic: 'devices/dev1/commands/reboot', payload: 'now', qos: 1, retain: false },
    ]);
    // A sentinel from B crosses NATS after B got the command: NATS delivers in order on A's connection, so an echo of
    // the command to A (a duplicate) would be there before it.
    await publish(pubB, 'devices/dev1/commands/sentinel', 'end', 1);
    await waitFor('the sentinel on A', () => gotA.some((m) => m.topic === 'devices/dev1/commands/sentinel'), 20_000);
    expect(gotA.filter((m) => m.topic === 'devices/dev1/commands/reboot')).toEqual([
      { topic: 'devices/dev1/commands/reboot', payload: 'now', qos: 1, retain: false },
    ]);
    // And B got its own sentinel once too (from its broker, not back from NATS).
    await waitFor('the sentinel on B', () => gotB.some((m) => m.topic === 'devices/dev1/commands/sentinel'), 20_000);
    expect(gotB.filter((m) => m.topic === 'devices/dev1/commands/sentinel')).toHaveLength(1);
    expect(await metric(a.httpUrl, 'gateway_cluster_relayed_total{direction="out"}')).toBeGreaterThanOrEqual(1);
    expect(await metric(b.httpUrl, 'gateway_cluster_relayed_total{direction="in"}')).toBeGreaterThanOrEqual(1);
    expect(await metric(a.httpUrl, 'gateway_cluster_relayed_total{direction="failed"}')).toBe(0);
  });

  it('a QoS 0 publish on A reaches mosquitto_sub on B; an ingest publish is not relayed', async () => {
    const pubA = await connect(a.mqttUrl, { clientId: 'pub-a0' });
    const pubB = await connect(b.mqttUrl, { clientId: 'pub-b0' });
    clients.push(pubA, pubB);
    // A retained probe on B tells when mosquitto_sub's subscription is in place (it prints the probe first).
    await publish(pubB, 'devices/room1/probe', 'ready', 1, true);
    // mosquitto_sub prints "qos retain topic payload" per message and exits after three.
    const sub = spawn(MOSQUITTO_SUB, [
      '-h',
      '127.0.0.1',
      '-p',
      portOf(b.mqttUrl),
      '-i',
      'mq-sub',
      '-q',
      '1',
      '-C',
      '3',
      '-F',
      '%q %r %t %p',
      '-t',
      'devices/room1/#',
    ]);
    let out = '';
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
    sub.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => sub.on('close', resolve));
    const killer = setTimeout(() => sub.kill('SIGKILL'), 30_000);
    await waitFor('mosquitto_sub subscribed', () => out.includes('devices/room1/probe'), 20_000);
    const out0 = await metric(a.httpUrl, 'gateway_cluster_relayed_total{direction="out"}');
    await publish(pubA, 'devices/room1/light', 'on', 0);
    await publish(pubA, 'devices/room1/telemetry', JSON.stringify({ readings: { t: 1 } }), 1);
    await publish(pubA, 'devices/room1/light', 'off', 0);
    const code = await exited;
    clearTimeout(killer);
    expect(code, out).toBe(0);
    expect(out.trim().split('\n')).toEqual(['1 1 devices/room1/probe ready', '0 0 devices/room1/light on', '0 0 devices/room1/light off']);
    // Exactly the two light publishes went out: the ingest publish (which mosquitto_sub's filter matches) went to the
    // stream only.
    expect((await metric(a.httpUrl, 'gateway_cluster_relayed_total{direction="out"}')) - out0).toBe(2);
  });

  it('a relayed QoS 1 publish waits in the persistent session of a subscriber of B that is offline', async () => {
    const first = await connect(b.mqttUrl, { clientId: 'persistent-b', clean: false });
    await first.subscribeAsync('devices/dev5/commands/#', { qos: 1 });
    await first.endAsync();
    const pubA = await connect(a.mqttUrl, { clientId: 'pub-a5' });
    clients.push(pubA);
    const in0 = await metric(b.httpUrl, 'gateway_cluster_relayed_total{direction="in"}');
    await publish(pubA, 'devices/dev5/commands/set', 'while-away', 1);
    await waitFor('relayed to B while the subscriber is away', async () => (await metric(b.httpUrl, 'gateway_cluster_relayed_total{direction="in"}')) > in0);
    // Back on the same gateway with its session: the queued message is delivered (no new subscription needed).
    const again = mqttConnect(b.mqttUrl, { clientId: 'persistent-b', clean: false, reconnectPeriod: 0 });
    clients.push(again);
    const got = new Promise<string>((resolve) => again.on('message', (topic, payload) => topic === 'devices/dev5/commands/set' && resolve(payload.toString())));
    expect(await got).toBe('while-away');
  });

  it("a client's will published by B (broker thread) reaches a subscriber on A", async () => {
    const onA = await connect(a.mqttUrl, { clientId: 'will-sub-a' });
    clients.push(onA);
    const got = collect(onA);
    await onA.subscribeAsync('devices/dev7/status', { qos: 1 });
    const dying = await connect(b.mqttUrl, { clientId: 'dev7', will: { topic: 'devices/dev7/status', payload: Buffer.from('gone'), qos: 1, retain: false } });
    // A connection lost without DISCONNECT: the broker publishes the will [MQTT-3.1.2-8].
    dying.stream.destroy();
    await waitFor('the will on A', () => got.some((m) => m.topic === 'devices/dev7/status'), 20_000);
    expect(got).toEqual([{ topic: 'devices/dev7/status', payload: 'gone', qos: 1, retain: false }]);
  });

  it('a retained publish on A is retained on B, cleared by an empty retained publish, and kept for a gateway that starts later', async () => {
    const r1 = await runClient(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', portOf(a.mqttUrl), '-q', '1', '-r', '-t', 'devices/dev1/status', '-m', 'online']);
    const r2 = await runClient(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', portOf(a.mqttUrl), '-q', '1', '-r', '-t', 'devices/dev2/status', '-m', 'up']);
    expect([r1.code, r2.code]).toEqual([0, 0]);
    // A subscriber connecting to B after the publish gets it, retained.
    await waitFor(
      'devices/dev1/status retained on B',
      async () => {
        const late = await connect(b.mqttUrl, { clientId: `late-${Date.now()}` });
        try {
          const got = collect(late);
          await late.subscribeAsync('devices/dev1/status', { qos: 1 });
          return await waitFor('retained', () => got.find((m) => m.retain && m.payload === 'online'), 1_000).catch(() => undefined);
        } finally {
          await late.endAsync();
        }
      },
      20_000,
      100,
    );
    // Clearing [MQTT-3.3.1-10/11]: a live subscriber on B gets the empty message; after it, B holds no retained one.
    const live = await connect(b.mqttUrl, { clientId: 'live-b' });
    clients.push(live);
    const gotLive = collect(live);
    await live.subscribeAsync('devices/dev1/status', { qos: 1 });
    await waitFor('the retained copy', () => gotLive.length === 1);
    const cleared = await runClient(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', portOf(a.mqttUrl), '-q', '1', '-r', '-n', '-t', 'devices/dev1/status']);
    expect(cleared.code).toBe(0);
    await waitFor('the clearing message on B', () => gotLive.some((m) => m.payload === ''), 20_000);
    const retainedOn = async (url: string, id: string) => {
      const c = await connect(url, { clientId: id });
      try {
        const got = collect(c);
        // aedes sends a subscription's retained messages before it handles the client's next packet: once the
        // second SUBACK is in, everything retained for devices/dev1/status has arrived.
        await c.subscribeAsync('devices/dev1/status', { qos: 1 });
        await c.subscribeAsync('devices/dev2/status', { qos: 1 });
        await waitFor('devices/dev2/status', () => got.some((m) => m.topic === 'devices/dev2/status'), 20_000);
        return got.filter((m) => m.retain).map((m) => `${m.topic}=${m.payload}`);
      } finally {
        await c.endAsync();
      }
    };
    expect(await retainedOn(b.mqttUrl, 'after-clear-b')).toEqual(['devices/dev2/status=up']);
    // A third gateway, started now, loads the cluster's retained messages from the bucket: dev2, not the cleared dev1.
    const c = await startClusterGateway(influxUrl, 'gw-c', nats.urls);
    try {
      expect(await retainedOn(c.mqttUrl, 'after-clear-c')).toEqual(['devices/dev2/status=up']);
    } finally {
      await c.dispose();
    }
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { hashSecret } from '../../gateway/auth/password.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { freePort } from '../support/influxd.js';
import { connect, publish } from '../support/mqtt.js';
import { connectPacket, publishPacket, subscribePacket } from '../support/mqtt-wire.js';
import { closedWithin, raw, type Raw } from '../support/raw-socket.js';

/**
 * The memory limits of the broker and the pipeline against a real gateway and real MQTT.js clients: each limit
 * refuses what goes beyond it, counts it (gateway_mqtt_refused_total{reason}, or gateway_messages_rejected_total
 * for sensors), logs it a bounded number of times, and leaves what was accepted and the other clients alone.
 * Memory-style limits are checked by counts and bytes, not by measuring the process.
 */

const MAX_PAYLOAD = 16 * 1024;
const RETAINED = { messages: 5, bytes: 8 * 1024 };
const MAX_QUEUED = 256 * 1024;
const MAX_FILTER = 64;
const PER_DEVICE = 2;
const PER_ADDRESS = 10;
const MAX_SENSORS = 5;
const SECRET = 'lim-secret-0123456789';
/** Retained test topics: below devices/ (what anonymous clients may use), not ingest topics. */
const R = 'devices/ret/state/';

/** Collects what a subscriber receives, by topic; `retained` keeps only messages delivered with the retain flag. */
function collect(client: MqttClient) {
  const got: { topic: string; payload: Buffer; retain: boolean }[] = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload, retain: packet.retain }));
  return got;
}

describe.each(['on', 'off'] as const)('broker and pipeline limits (brokerThread %s)', (brokerThread) => {
  let tg: TestGateway;
  let device: MqttClient;
  let sent = 0;
  const refused = (reason: string) => metricValue(tg.gw, 'mqttRefused', { reason });
  const lines = (msg: string) => tg.logLines().filter((l) => l.msg === msg);

  /** The well-behaved device: one QoS 1 reading, acknowledged and accepted, whatever else is going on. */
  async function deviceStillServed(): Promise<void> {
    const before = await metricValue(tg.gw, 'readingsAccepted');
    await publish(device, 'devices/good-1/telemetry', JSON.stringify({ ts: Date.now(), seq: sent++, readings: { t: sent } }));
    await waitFor('the reading accepted', async () => ((await metricValue(tg.gw, 'readingsAccepted')) === before + 1 ? true : undefined));
  }

  /**
   * The retained messages a new subscriber to `filter` gets. aedes sends them after the SUBACK, from one stream:
   * once `expected` have come, a live message published then (the fence) comes after any other of them.
   */
  async function retainedOf(filter: string, expected: number): Promise<Map<string, number>> {
    const sub = await connect(tg.mqttUrl, { clientId: `peek-${sent++}` });
    const got = collect(sub);
    await sub.subscribeAsync([filter, 'devices/fence/#'], { qos: 1 });
    await waitFor('the retained messages', () => (got.filter((m) => m.retain).length >= expected ? true : undefined));
    await publish(device, `devices/fence/x/${sent}`, 'x');
    await waitFor('the fence', () => (got.some((m) => m.topic.startsWith('devices/fence/')) ? true : undefined));
    await sub.endAsync();
    return new Map(got.filter((m) => m.retain).map((m) => [m.topic, m.payload.length]));
  }

  beforeAll(async () => {
    tg = await startTestGateway({
      influxUrl: 'http://127.0.0.1:9',
      overrides: {
        mqtt: {
          wsPort: await freePort(),
          maxPayloadBytes: MAX_PAYLOAD,
          maxRetainedMessages: RETAINED.messages,
          maxRetainedBytes: RETAINED.bytes,
          maxQueuedBytes: MAX_QUEUED,
          drainTimeout: '60s', // the bytes, not the time, cut the stuck subscriber off here
          maxTopicFilterBytes: MAX_FILTER,
          maxConnectionsPerDevice: PER_DEVICE,
          maxConnectionsPerAddress: PER_ADDRESS,
          brokerThread,
        },
        pipeline: { maxSensorsPerDevice: MAX_SENSORS },
      },
    });
    writeFileSync(join(tg.dir, 'devices.yaml'), `devices:\n  - id: lim-1\n    passwordHash: ${await hashSecret(SECRET)}\n`);
    await waitFor('the device registered', () => (tg.gw.devices.registry.get('lim-1') ? true : undefined));
    device = await connect(tg.mqttUrl, { clientId: 'good-1' });
  });

  afterAll(async () => {
    await device?.endAsync();
    await tg?.dispose();
  });

  it('bounds the retained store by count and bytes; updates and deletes still work, refused ones are still delivered', async () => {
    const live = await connect(tg.mqttUrl, { clientId: 'live-1' });
    onTestFinished(() => void live.end(true));
    const got = collect(live);
    await live.subscribeAsync(`${R}#`, { qos: 1 });
    const before = await refused('retained_limit');
    // Over the byte bound on its own: delivered to the live subscriber, not stored.
    await publish(device, `${R}big`, Buffer.alloc(RETAINED.bytes, 0x61), 1, true);
    for (let i = 0; i < RETAINED.messages; i++) await publish(device, `${R}${i}`, Buffer.alloc(100, 0x62), 1, true);
    await publish(device, `${R}5`, Buffer.alloc(100, 0x63), 1, true); // a topic beyond the count
    expect(await refused('retained_limit')).toBe(before + 2);
    await publish(device, `${R}0`, Buffer.alloc(200, 0x64), 1, true); // an update within the bounds
    await publish(device, `${R}0`, Buffer.alloc(RETAINED.bytes, 0x65), 1, true); // an update beyond them: the 200 bytes stay
    expect(await refused('retained_limit')).toBe(before + 3);
    const deliveries = 1 + RETAINED.messages + 3;
    await waitFor('every publish delivered live', () => {
      if (got.length === deliveries) return true;
      throw new Error(`${got.length} of ${deliveries} delivered: ${got.map((m) => `${m.topic} (${m.payload.length} B)`).join(', ')}`);
    });
    expect(got.map((m) => m.topic)).toContain(`${R}big`);
    expect(got.map((m) => m.topic)).toContain(`${R}5`);
    expect(await retainedOf(`${R}#`, 5)).toEqual(
      new Map([
        [`${R}0`, 200],
        [`${R}1`, 100],
        [`${R}2`, 100],
        [`${R}3`, 100],
        [`${R}4`, 100],
      ]),
    );

    // A delete always works and frees its slot.
    await publish(device, `${R}1`, Buffer.alloc(0), 1, true);
    await publish(device, `${R}5`, Buffer.alloc(100, 0x63), 1, true);
    expect(await retainedOf(`${R}#`, 5)).toEqual(
      new Map([
        [`${R}0`, 200],
        [`${R}2`, 100],
        [`${R}3`, 100],
        [`${R}4`, 100],
        [`${R}5`, 100],
      ]),
    );
    expect(await refused('retained_limit')).toBe(before + 3);
    await waitFor('the refusals logged', () =>
      lines('retained message not stored: mqtt.maxRetainedMessages or mqtt.maxRetainedBytes reached').length === 3 ? true : undefined,
    );
    await live.endAsync();
    await deviceStillServed();
  });

  it('disconnects a subscriber with more than mqtt.maxQueuedBytes waiting, once, with one log line', async () => {
    const before = await refused('queue_full');
    const drainBefore = await refused('slow_consumer');
    const sink = await raw(tg.gw.ports.mqtt);
    sink.socket.write(connectPacket('never-reads', 60));
    await waitFor('CONNACK', () => (sink.received().length >= 4 ? true : undefined));
    sink.socket.write(subscribePacket(['devices/blobs/#']));
    await waitFor('SUBACK', () => (sink.received().length >= 9 ? true : undefined));
    sink.socket.pause();

    const chatty = await connect(tg.mqttUrl, { clientId: 'chatty-1' });
    const payload = Buffer.alloc(MAX_PAYLOAD - 100, 0x61);
    // At most 32 MiB: far beyond the socket buffers and the bound.
    for (let i = 0; i < 2048 && (await refused('queue_full')) === before; i++) await publish(chatty, `devices/blobs/x/${i % 7}`, payload, 1);
    await waitFor('the stuck subscriber disconnected', async () => ((await refused('queue_full')) === before + 1 ? true : undefined));
    sink.socket.resume(); // a paused socket does not notice the close
    expect(await closedWithin(sink, 10_000)).toBe(true);
    const msg = 'subscriber disconnected: more bytes waiting for it than mqtt.maxQueuedBytes';
    await waitFor('the disconnect logged', () => (lines(msg).length > 0 ? true : undefined));
    // The publisher is served on; the refusal is counted once and logged once, not once per pending write.
    await publish(chatty, 'devices/blobs/x/after', payload, 1);
    await deviceStillServed();
    expect(lines(msg).filter((l) => l.clientId === 'never-reads')).toHaveLength(1);
    expect(await refused('queue_full')).toBe(before + 1);
    expect(await refused('slow_consumer')).toBe(drainBefore);
    await chatty.endAsync();
  });

  it('bounds the send queue over WebSocket as well', async () => {
    const before = await refused('queue_full');
    const sub = await connect(`ws://127.0.0.1:${tg.gw.ports.ws}`, { clientId: 'ws-never-reads' });
    const closed = new Promise<void>((res) => sub.once('close', () => res()));
    await sub.subscribeAsync('devices/wsblobs/#', { qos: 0 });
    // The client stops reading: its WebSocket stream stops its socket, and the gateway's side fills up.
    sub.stream.pause();
    const chatty = await connect(tg.mqttUrl, { clientId: 'chatty-2' });
    const payload = Buffer.alloc(MAX_PAYLOAD - 100, 0x61);
    for (let i = 0; i < 2048 && (await refused('queue_full')) === before; i++) await publish(chatty, `devices/wsblobs/x/${i % 7}`, payload, 1);
    await waitFor('the stuck WebSocket subscriber disconnected', async () => ((await refused('queue_full')) === before + 1 ? true : undefined));
    sub.stream.resume();
    await closed;
    sub.end(true);
    await chatty.endAsync();
    await deviceStillServed();
  });

  it('refuses topic filters longer than mqtt.maxTopicFilterBytes with 128; the others are granted', async () => {
    const before = await refused('filter_too_long');
    const r = await raw(tg.gw.ports.mqtt);
    r.socket.write(connectPacket('filters-1', 60));
    await waitFor('CONNACK', () => (r.received().length >= 4 ? true : undefined));
    const fits = `devices/${'a'.repeat(MAX_FILTER - 8)}`;
    const long = `devices/${'a'.repeat(MAX_FILTER - 7)}`;
    const wide = `devices/${'é'.repeat(MAX_FILTER / 2 - 3)}`; // fewer characters than the bound, more UTF-8 bytes
    expect([Buffer.byteLength(fits), Buffer.byteLength(long), wide.length < MAX_FILTER, Buffer.byteLength(wide) > MAX_FILTER]).toEqual([
      MAX_FILTER,
      MAX_FILTER + 1,
      true,
      true,
    ]);
    r.socket.write(subscribePacket([fits, long, wide], 7));
    // SUBACK: 0x90, remaining length 5, packet id 7, one return code per filter [MQTT-3.9.3].
    const suback = await waitFor('SUBACK', () => (r.received().length >= 4 + 7 ? r.received().subarray(4) : undefined));
    expect([...suback]).toEqual([0x90, 5, 0, 7, 0, 0x80, 0x80]);
    expect(await refused('filter_too_long')).toBe(before + 2);
    expect(r.isClosed()).toBe(false);
    await waitFor('logged', () => (lines('subscription refused: topic filter longer than mqtt.maxTopicFilterBytes').length === 2 ? true : undefined));
    r.socket.destroy();
  });

  it("refuses a connection beyond mqtt.maxConnectionsPerDevice with CONNACK 3; the device's others are served", async () => {
    const before = await refused('max_connections_per_device');
    const opts = { username: 'lim-1', password: SECRET };
    const a = await connect(tg.mqttUrl, { ...opts, clientId: 'lim-1-a' });
    const b = await connect(tg.mqttUrl, { ...opts, clientId: 'lim-1-b' });
    await expect(connect(tg.mqttUrl, { ...opts, clientId: 'lim-1-c' })).rejects.toMatchObject({ code: 3 });
    expect(await refused('max_connections_per_device')).toBe(before + 1);
    const accepted = await metricValue(tg.gw, 'readingsAccepted');
    await publish(a, 'devices/lim-1/telemetry', JSON.stringify({ ts: Date.now(), readings: { t: 1 } }));
    await publish(b, 'devices/lim-1/telemetry', JSON.stringify({ ts: Date.now() + 1, readings: { t: 2 } }));
    await waitFor('both readings accepted', async () => ((await metricValue(tg.gw, 'readingsAccepted')) === accepted + 2 ? true : undefined));
    // A closed connection gives its slot back.
    await b.endAsync();
    const c = await waitFor('a slot free again', () => connect(tg.mqttUrl, { ...opts, clientId: 'lim-1-c' }).catch(() => undefined));
    await Promise.all([a.endAsync(), c.endAsync()]);
  });

  it('refuses connections beyond mqtt.maxConnectionsPerAddress before any MQTT; the connected ones are fine', async () => {
    await waitFor('only the device connected', () => (tg.gw.broker.connectedClients === 1 ? true : undefined));
    const before = await refused('max_connections_per_address');
    const socks: Raw[] = [];
    for (let i = 0; i < PER_ADDRESS + 5; i++) {
      const r = await raw(tg.gw.ports.mqtt);
      r.socket.write(connectPacket(`addr-${i}`, 60));
      socks.push(r);
    }
    await waitFor('each answered or closed', () => (socks.every((s) => s.isClosed() || s.received().length >= 4) ? true : undefined));
    // The device holds one slot of the address.
    expect(socks.filter((s) => !s.isClosed() && s.received()[0] === 0x20)).toHaveLength(PER_ADDRESS - 1);
    expect(socks.filter((s) => s.isClosed() && s.received().length === 0)).toHaveLength(6);
    expect(await refused('max_connections_per_address')).toBe(before + 6);
    await deviceStillServed();
    for (const s of socks) s.socket.destroy();
    // Closed connections give their slots back (as soon as the gateway sees them close).
    await waitFor('a slot free again', async () => {
      const later = await raw(tg.gw.ports.mqtt);
      later.socket.write(connectPacket('addr-later', 60));
      const answer = await waitFor('CONNACK or close', () => (later.received().length >= 4 ? 'acked' : later.isClosed() ? 'closed' : undefined));
      later.socket.destroy();
      return answer === 'acked' ? true : undefined;
    });
  });

  it('closes a connection whose PUBLISH or SUBSCRIBE topic holds U+0000 or ill-formed UTF-8 [MQTT-1.5.3-1/2]', async () => {
    const before = await refused('invalid_topic');
    const topics = [
      Buffer.from('devices/x\u0000y/telemetry', 'utf8'),
      Buffer.from([0x64, 0x2f, 0xc0, 0xaf]), // overlong '/'
      Buffer.from([0x64, 0x2f, 0xed, 0xa0, 0x80]), // encoded surrogate
      Buffer.from([0x64, 0x2f, 0xff]),
    ];
    const packets = [
      ...topics.map((t) => publishPacket(t, '{}', 0).bytes),
      publishPacket(topics[1]!, '{}', 1).bytes,
      subscribePacket([topics[0]!]),
      subscribePacket(['ok/#', topics[2]!]),
    ];
    for (const [i, p] of packets.entries()) {
      const r = await raw(tg.gw.ports.mqtt);
      r.socket.write(connectPacket(`bad-topic-${i}`, 60));
      await waitFor('CONNACK', () => (r.received().length >= 4 ? true : undefined));
      r.socket.write(p);
      expect(await closedWithin(r, 10_000)).toBe(true);
      expect(r.received().length).toBe(4); // nothing after the CONNACK: no PUBACK, no SUBACK
    }
    expect(await refused('invalid_topic')).toBe(before + packets.length);
    await waitFor('logged', () => (lines('MQTT PUBLISH refused: topic is not a valid UTF-8 string; connection closed').length > 0 ? true : undefined));

    // Well-formed multi-byte topics are routed as before.
    const sub = await connect(tg.mqttUrl, { clientId: 'utf8-sub' });
    const got = collect(sub);
    await sub.subscribeAsync('devices/capteurs/température/#', { qos: 1 });
    await publish(device, 'devices/capteurs/température/温度', 'ok');
    await waitFor('delivered', () => (got.length === 1 ? true : undefined));
    expect(got[0]!.topic).toBe('devices/capteurs/température/温度');
    await sub.endAsync();
    await deviceStillServed();
  });

  it('rejects readings of sensor names beyond pipeline.maxSensorsPerDevice; known sensors go on', async () => {
    const rejected = () => metricValue(tg.gw, 'messagesRejected', { reason: 'too_many_sensors' });
    const accepted = () => metricValue(tg.gw, 'readingsAccepted');
    const names = (n: number, from = 0) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`s${from + i}`, i]));
    const a0 = await accepted();
    const t = Date.now();
    await publish(device, 'devices/many-1/telemetry', JSON.stringify({ ts: t, readings: names(MAX_SENSORS + 3) }));
    await publish(device, 'devices/many-1/telemetry', JSON.stringify({ ts: t + 1, readings: { ...names(2), ...names(1000, 100) } }));
    await waitFor('counted', async () => ((await rejected()) === 3 + 1000 ? true : undefined));
    expect(await accepted()).toBe(a0 + MAX_SENSORS + 2);
    // Another device has its own allowance.
    await publish(device, 'devices/many-2/sensors/s0', JSON.stringify({ ts: t, value: 1 }));
    await waitFor('accepted', async () => ((await accepted()) === a0 + MAX_SENSORS + 3 ? true : undefined));
    const live = (await (await fetch(`${tg.httpUrl}/api/live`)).json()) as { sensors: { device: string }[] };
    expect(live.sensors.filter((s) => s.device === 'many-1')).toHaveLength(MAX_SENSORS);
    expect(lines('message rejected').filter((l) => l.reason === 'too_many_sensors')).toHaveLength(2);
    await deviceStillServed();
  });
});

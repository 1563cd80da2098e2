import v8 from 'node:v8';
import vm from 'node:vm';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maxPacketBytes } from '../../gateway/broker/limits.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect, publish } from '../support/mqtt.js';
import { connectPacket, remainingLength, subscribePacket } from '../support/mqtt-wire.js';
import { closedWithin, raw, type Raw } from '../support/raw-socket.js';

/**
 * Protocol abuse through raw sockets against a real gateway: each case has a defined outcome (the connection is
 * closed or the subscription refused, a reason of gateway_mqtt_refused_total counts it, a log line says why) and
 * a well-behaved device connected throughout keeps getting every publish acknowledged and ingested.
 * No InfluxDB: these cases are about the broker; windows wait in the outbox.
 */

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MAX_PAYLOAD = 64 * 1024;
const MAX_CONNECTIONS = 12;
const MAX_SUBSCRIPTIONS = 50;

// The limits hold wherever aedes runs (mqtt.brokerThread): on its own thread, and in the gateway's thread.
describe.each(['on', 'off'] as const)('robustness: MQTT protocol abuse (brokerThread %s)', (brokerThread) => {
  let tg: TestGateway;
  let device: MqttClient;
  let sent = 0;
  const refused = (reason: string) => metricValue(tg.gw, 'mqttRefused', { reason });

  /** The well-behaved device: one QoS 1 reading, acknowledged and accepted, whatever else is going on. */
  async function deviceStillServed(): Promise<void> {
    const before = await metricValue(tg.gw, 'readingsAccepted');
    await publish(device, 'devices/good-1/telemetry', JSON.stringify({ ts: Date.now(), seq: sent++, readings: { t: sent } }));
    await waitFor('the reading accepted', async () => ((await metricValue(tg.gw, 'readingsAccepted')) === before + 1 ? true : undefined));
  }

  beforeAll(async () => {
    tg = await startTestGateway({
      influxUrl: 'http://127.0.0.1:9',
      overrides: {
        mqtt: {
          connectTimeout: '300ms',
          maxPayloadBytes: MAX_PAYLOAD,
          maxConnections: MAX_CONNECTIONS,
          maxSubscriptions: MAX_SUBSCRIPTIONS,
          drainTimeout: '1s',
          // High, so that the drain timeout is what cuts the stuck subscriber off here (broker-limits tests the bytes).
          maxQueuedBytes: '1GiB',
          brokerThread,
        },
      },
    });
    device = await connect(tg.mqttUrl, { clientId: 'good-1' });
  });

  afterAll(async () => {
    await device?.endAsync();
    await tg?.dispose();
  });

  it('closes a connection that sends garbage, counted as protocol_error (or packet_too_large)', async () => {
    const before = (await refused('protocol_error')) + (await refused('packet_too_large'));
    for (const junk of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), Buffer.from([0x00, 0x00])]) {
      const r = await raw(tg.gw.ports.mqtt);
      r.socket.write(junk);
      expect(await closedWithin(r, 5000)).toBe(true);
    }
    // 0xff... declares a length of 256 MB: the size guard closes that one before the parser can refuse it.
    // aedes closes the socket before it reports the error that gets it counted: with the broker thread, the
    // client may see the close a moment before the count.
    await waitFor('three refusals counted', async () => (await refused('protocol_error')) + (await refused('packet_too_large')) >= before + 3);
    expect((await refused('protocol_error')) + (await refused('packet_too_large'))).toBe(before + 3);
    expect(await refused('protocol_error')).toBeGreaterThanOrEqual(2);
    await deviceStillServed();
  });

  it('closes a connection whose CONNECT never completes after mqtt.connectTimeout, counted', async () => {
    const before = await refused('connect_timeout');
    const silent = await raw(tg.gw.ports.mqtt);
    const partial = await raw(tg.gw.ports.mqtt);
    partial.socket.write(connectPacket('slow-connect', 60).subarray(0, 7)); // header and half the protocol name
    expect(await closedWithin(silent, 5000)).toBe(true);
    expect(await closedWithin(partial, 5000)).toBe(true);
    expect(partial.received().length).toBe(0); // no CONNACK
    await waitFor('both counted', async () => ((await refused('connect_timeout')) === before + 2 ? true : undefined)); // counted just after the close
    await deviceStillServed();
  });

  it('closes a connection at a header declaring a huge packet, before buffering it', async () => {
    const limit = maxPacketBytes(MAX_PAYLOAD);
    const before = await refused('packet_too_large');
    // Before CONNECT: a PUBLISH declaring 200 MB, then bytes that would follow it.
    const r = await raw(tg.gw.ports.mqtt);
    r.socket.write(Buffer.concat([Buffer.from([0x30]), remainingLength(200 * 1024 * 1024)]));
    let written = 0;
    while (!r.isClosed() && written < 64 * 1024 * 1024) {
      const ok = r.socket.write(Buffer.alloc(64 * 1024, 0x41));
      written += 64 * 1024;
      if (!ok) await Promise.race([new Promise((res) => r.socket.once('drain', res)), r.closed]);
    }
    expect(await closedWithin(r, 5000)).toBe(true);
    expect(written).toBeLessThan(64 * 1024 * 1024); // the gateway closed it long before the declared size
    expect(await refused('packet_too_large')).toBe(before + 1);
    // With the broker thread, its log lines reach the gateway's logger a moment after the counter.
    await waitFor('the size limit logged', () =>
      tg.logLines().some((l) => l.msg === 'MQTT packet over the size limit: connection closed' && l.declared === 200 * 1024 * 1024 && l.max === limit)
        ? true
        : undefined,
    );

    // After CONNECT, from a real client: a publish over the packet limit costs that client its connection.
    const big = await connect(tg.mqttUrl, { clientId: 'big-1' });
    const closed = new Promise<void>((res) => big.once('close', () => res()));
    big.publish('devices/big-1/telemetry', Buffer.alloc(limit + 10, 0x20), { qos: 0 });
    await closed;
    big.end(true);
    expect(await refused('packet_too_large')).toBe(before + 2);

    // A payload over mqtt.maxPayloadBytes but within the packet limit is refused by ingest; the connection stays.
    const medium = await connect(tg.mqttUrl, { clientId: 'medium-1' });
    await publish(medium, 'devices/medium-1/telemetry', Buffer.alloc(MAX_PAYLOAD + 1, 0x20));
    await waitFor('payload_too_large counted', async () =>
      (await metricValue(tg.gw, 'messagesRejected', { reason: 'payload_too_large' })) === 1 ? true : undefined,
    );
    expect(medium.connected).toBe(true);
    await medium.endAsync();
    await deviceStillServed();
  });

  it('bounds the subscriptions of one client: the extra filters get 128, counted', async () => {
    const before = await refused('too_many_subscriptions');
    const greedy = await raw(tg.gw.ports.mqtt);
    greedy.socket.write(connectPacket('greedy-1', 60));
    await waitFor('CONNACK', () => (greedy.received().length >= 4 ? true : undefined));
    // One SUBSCRIBE with 2000 filters (about 34 KB), all allowed by the ACL.
    const filters = Array.from({ length: 2000 }, (_, i) => `devices/x${i}/#`);
    greedy.socket.write(subscribePacket(filters));
    const suback = await waitFor('SUBACK', () => {
      const r = greedy.received().subarray(4);
      return r.length >= 2 + 2 + 1 + 2000 - 1 && r[0] === 0x90 ? r : undefined;
    });
    const codes = [...suback.subarray(suback.length - 2000)];
    expect(codes.filter((c) => c === 0)).toHaveLength(MAX_SUBSCRIPTIONS);
    expect(codes.filter((c) => c === 0x80)).toHaveLength(2000 - MAX_SUBSCRIPTIONS);
    expect(await refused('too_many_subscriptions')).toBe(before + 2000 - MAX_SUBSCRIPTIONS);
    // The log says it a few times, then how many lines it suppressed; not 1950 lines.
    const refusedLines = () => tg.logLines().filter((l) => l.msg === 'subscription refused: too many subscriptions for one client').length;
    await waitFor('the refusals logged', () => (refusedLines() > 0 ? true : undefined));
    expect(refusedLines()).toBeLessThanOrEqual(5);
    expect(greedy.isClosed()).toBe(false);
    greedy.socket.destroy();

    // Through a real client: resubscribing to a held filter is free, unsubscribing frees slots.
    const client = await connect(tg.mqttUrl, { clientId: 'greedy-2' });
    await client.subscribeAsync(filters.slice(0, MAX_SUBSCRIPTIONS), { qos: 0 });
    expect((await client.subscribeAsync(filters[0]!, { qos: 0 }))[0]!.qos).toBe(0);
    await expect(client.subscribeAsync(filters[MAX_SUBSCRIPTIONS]!, { qos: 0 })).rejects.toThrow(/Subscribe error/);
    await client.unsubscribeAsync(filters.slice(0, 10));
    await client.subscribeAsync(filters.slice(MAX_SUBSCRIPTIONS, MAX_SUBSCRIPTIONS + 10), { qos: 0 });
    expect(client.connected).toBe(true);
    await client.endAsync();
    await deviceStillServed();
  });

  it('disconnects a subscriber to # that never reads; memory stays bounded and publishers are served', async () => {
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const before = await refused('slow_consumer');
    const clientsBefore = tg.gw.broker.connectedClients;
    // Connects and subscribes to all device traffic (anonymous clients may not subscribe to #), then stops reading: the kernel buffers fill, then aedes' writes.
    const sink = await raw(tg.gw.ports.mqtt);
    sink.socket.write(connectPacket('never-reads', 60));
    await waitFor('CONNACK', () => (sink.received().length >= 4 ? true : undefined));
    sink.socket.write(subscribePacket(['devices/#']));
    await waitFor('SUBACK', () => (sink.received().length >= 9 ? true : undefined));
    sink.socket.pause();

    // A chatty publisher on a non-ingest topic (routed to the subscriber) and the device, in parallel.
    const chatty = await connect(tg.mqttUrl, { clientId: 'chatty-1' });
    const payload = Buffer.alloc(MAX_PAYLOAD - 100, 0x61);
    const acceptedBefore = await metricValue(tg.gw, 'readingsAccepted');
    let chattySent = 0;
    const deviceReadings = 200;
    const deviceDone = (async () => {
      for (let i = 0; i < deviceReadings; i++) {
        await publish(device, 'devices/good-1/telemetry', JSON.stringify({ ts: Date.now(), seq: sent++, readings: { t: i } }));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    // 64 MiB in all: far more than the socket buffers between the gateway and the stuck subscriber can hold.
    while (chattySent < 1024) {
      await publish(chatty, `devices/chatty-1/blob${chattySent % 7}`, payload, 1);
      chattySent++;
      if ((await refused('slow_consumer')) > before && chattySent > 200) break;
    }
    await waitFor('the stuck subscriber disconnected', async () => ((await refused('slow_consumer')) === before + 1 ? true : undefined), 30_000);
    await deviceDone;
    await waitFor('all device readings accepted', async () =>
      (await metricValue(tg.gw, 'readingsAccepted')) === acceptedBefore + deviceReadings ? true : undefined,
    );
    const slowLines = () => tg.logLines().filter((l) => l.msg === 'subscriber disconnected: its socket did not drain in time (mqtt.drainTimeout)');
    await waitFor('the slow consumer logged', () => (slowLines().some((l) => l.clientId === 'never-reads') ? true : undefined));
    await chatty.endAsync();
    await waitFor('the stuck subscriber and the chatty client gone', () => (tg.gw.broker.connectedClients === clientsBefore ? true : undefined));
    // aedes fails each of the subscriber's pending writes with the timeout (thousands): one event, one line.
    expect(slowLines()).toHaveLength(1);
    sink.socket.destroy();
    gc();
    // Generous: what matters is that the gateway did not keep the ~64 MiB the subscriber never read.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
  });

  it('refuses connections beyond mqtt.maxConnections; the connected ones are fine', async () => {
    const before = await refused('max_connections');
    const open = tg.gw.broker.connectedClients; // the device, and nothing left over from the cases above
    const attempts = MAX_CONNECTIONS + 8;
    const socks: Raw[] = [];
    for (let i = 0; i < attempts; i++) {
      const r = await raw(tg.gw.ports.mqtt);
      r.socket.write(connectPacket(`flood-${i}`, 60));
      socks.push(r);
    }
    await waitFor('each flood connection answered or closed', () => (socks.every((s) => s.isClosed() || s.received().length >= 4) ? true : undefined));
    const acked = socks.filter((s) => !s.isClosed() && s.received()[0] === 0x20);
    expect(acked).toHaveLength(MAX_CONNECTIONS - open);
    expect(socks.filter((s) => s.isClosed())).toHaveLength(attempts - (MAX_CONNECTIONS - open));
    // Node closes a dropped socket before it emits 'drop' (counted then): wait for the count.
    await waitFor('the drops counted', async () => ((await refused('max_connections')) === before + attempts - (MAX_CONNECTIONS - open) ? true : undefined));
    await deviceStillServed();
    for (const s of socks) s.socket.destroy();
    // Freed slots can be used again.
    await waitFor('flood connections gone', () => (tg.gw.broker.connectedClients === open ? true : undefined));
    const later = await connect(tg.mqttUrl, { clientId: 'later-1' });
    expect(later.connected).toBe(true);
    await later.endAsync();
  });
});

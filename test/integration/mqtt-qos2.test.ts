import { connect as netConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect } from '../support/mqtt.js';
import { connectPacket, publishPacket } from '../support/mqtt-wire.js';

/**
 * QoS 2 from a client that repeats itself. Two PUBREL for one message in one TCP segment are handled concurrently by
 * aedes; the second finds the stored message gone. aedes 1.2.0 answers both with PUBCOMP; aedes 2.0.0-beta.1 (built
 * before that fix) lets the rejection escape from a `.finally()` and the process (or the broker thread) dies
 * (docs/mqtt.md). This holds any aedes upgrade to the 1.2.0 behaviour. Run on 2.0.0-beta.1 (December 2026): the
 * memory cases fail (broker thread gone: ECONNREFUSED; in-process: unhandled rejection "no such packet").
 */
const PUBREL = Buffer.from([0x62, 0x02, 0x00, 0x01]); // [MQTT-3.6.1-1]: flags 0010, packet id 1

function qos2Publish(topic: string, payload: string): Buffer {
  const t = publishPacket(topic, payload, 1).bytes; // QoS 1 layout with packet id 1; QoS 2 differs only in the flags
  const b = Buffer.from(t);
  b[0] = 0x34;
  return b;
}

/** Resolves when `socket` has received a packet whose first byte is `first`. */
function receivedPacket(socket: Socket, got: Buffer[], first: number): Promise<void> {
  return waitFor(`packet 0x${first.toString(16)}`, () => (Buffer.concat(got).includes(first) ? true : undefined)).then(() => undefined);
}

// aedes' in-memory store rejects the second delete; the disk store does not (a LevelDB delete of nothing succeeds).
describe.each([
  ['on', 'memory'],
  ['off', 'memory'],
  ['on', 'disk'],
] as const)('QoS 2 with duplicate PUBRELs (brokerThread %s, sessions %s)', (brokerThread, sessions) => {
  let tg: TestGateway;

  beforeAll(async () => {
    tg = await startTestGateway({ influxUrl: 'http://127.0.0.1:9', overrides: { mqtt: { brokerThread, sessions } } });
  });
  afterAll(async () => {
    await tg?.dispose();
  });

  it('answers both with PUBCOMP, ingests the reading once, and keeps serving', async () => {
    const socket = netConnect(tg.gw.ports.mqtt, '127.0.0.1');
    const got: Buffer[] = [];
    socket.on('data', (c: Buffer) => got.push(c));
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(connectPacket('q2-dev'));
    await receivedPacket(socket, got, 0x20); // CONNACK
    socket.write(qos2Publish('devices/q2-dev/sensors/t', JSON.stringify({ ts: Date.now() - 5000, value: 7 })));
    await receivedPacket(socket, got, 0x50); // PUBREC
    got.length = 0;
    socket.write(Buffer.concat([PUBREL, PUBREL]));
    await waitFor('two PUBCOMP', () => (Buffer.concat(got).equals(Buffer.from([0x70, 0x02, 0x00, 0x01, 0x70, 0x02, 0x00, 0x01])) ? true : undefined));
    socket.destroy();

    const other = await connect(tg.mqttUrl, { clientId: 'after-q2' });
    await other.publishAsync('devices/after-q2/sensors/t', JSON.stringify({ ts: Date.now() - 4000, value: 1 }), { qos: 1 });
    await other.endAsync();
    expect(await metricValue(tg.gw, 'readingsAccepted')).toBe(2);
  });
});

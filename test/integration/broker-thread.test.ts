import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerThread } from '../../gateway/broker/thread/broker-thread.js';
import { BrokerWorker } from '../../gateway/broker/thread/worker-start.js';
import { startLoad } from '../bench/loadgen.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect, publish } from '../support/mqtt.js';

/**
 * The broker thread (mqtt.brokerThread: on) and the ring between it and the gateway's thread. The gateway's
 * thread is this test's thread, so blocking it here is exactly a pipeline that falls behind the broker.
 */
describe('broker thread: publishes cross to the gateway thread', () => {
  let tg: TestGateway;

  beforeAll(async () => {
    // InfluxDB is not needed: what is checked is the hand-over, the outbox just holds the windows.
    tg = await startTestGateway({ influxUrl: 'http://127.0.0.1:9', overrides: { mqtt: { brokerThread: 'on' }, log: { level: 'warn' } } });
  });

  afterAll(async () => {
    await tg?.dispose();
  });

  it('holds publishers while the gateway thread is busy: the ring fills, then nothing is lost', async () => {
    const heldBefore = await metricValue(tg.gw, 'brokerHeld');
    const receivedBefore = await metricValue(tg.gw, 'messagesReceived');
    // A raw-socket generator in a child process, as fast as the broker reads (QoS 0: TCP is the only flow control).
    const load = await startLoad({ port: tg.gw.ports.mqtt, connections: 8, devices: 80, qos: 0, rate: 0, t0: Date.now() - 3_600_000, stepMs: 10 });
    await waitFor('the load reaching the pipeline', async () => (await metricValue(tg.gw, 'messagesReceived')) > receivedBefore);
    // Far longer than the ring (8 MiB, ~80k publishes of ~110 bytes) takes to fill at this rate.
    const until = Date.now() + 2_000;
    while (Date.now() < until);
    await waitFor('the broker thread holding publishes back', async () => (await metricValue(tg.gw, 'brokerHeld')) > heldBefore);
    const sent = (await load.finish()).sent;
    const received = await waitFor('every publish the generator wrote has reached the pipeline', async () => {
      const n = (await metricValue(tg.gw, 'messagesReceived')) - receivedBefore;
      return n >= sent ? n : undefined;
    });
    expect(received).toBe(sent);
    expect(await metricValue(tg.gw, 'messagesRejected')).toBe(0);
    // The ring did fill: the broker thread held publishes back rather than dropping them.
    expect((await metricValue(tg.gw, 'brokerHeld')) - heldBefore).toBeGreaterThan(0);
  });

  it("acknowledges a QoS 1 publish after the gateway took it; health counts the thread's clients", async () => {
    const client = await connect(tg.mqttUrl, { clientId: 'qos1-dev' });
    await waitFor('the client counted', () => (tg.gw.broker.connectedClients === 1 ? true : undefined));
    const before = await metricValue(tg.gw, 'readingsAccepted');
    for (let i = 0; i < 20; i++) await publish(client, 'devices/qos1-dev/telemetry', JSON.stringify({ ts: Date.now() - 60_000 + i, readings: { t: i } }), 1);
    // publish() resolved on each PUBACK: by then the reading was decoded and counted on the gateway thread.
    expect((await metricValue(tg.gw, 'readingsAccepted')) - before).toBe(20);
    const health = (await (await fetch(`${tg.httpUrl}/health`)).json()) as { broker: { listening: boolean; clients: number } };
    expect(health.broker).toEqual({ listening: true, clients: 1 });
    await client.endAsync();
    await waitFor('the client gone', () => (tg.gw.broker.connectedClients === 0 ? true : undefined));
  });

  // The PUBACKs of publishes nobody subscribes to are written by the broker thread itself (own-pubacks.ts).
  it('acknowledges pipelined QoS 1 publishes in the order they were sent, each after the gateway counted it', async () => {
    const client = await connect(tg.mqttUrl, { clientId: 'qos1-order' });
    const sent: number[] = [];
    const acked: number[] = [];
    const countedAtAck: number[] = [];
    const before = await metricValue(tg.gw, 'readingsAccepted');
    client.on('packetsend', (p) => {
      if (p.cmd === 'publish' && p.qos === 1) sent.push(p.messageId!);
    });
    client.on('packetreceive', (p) => {
      if (p.cmd !== 'puback') return;
      acked.push(p.messageId!);
      // This test's thread is the gateway's: the count read here is the one at the moment of the PUBACK.
      void metricValue(tg.gw, 'readingsAccepted').then((n) => countedAtAck.push(n - before));
    });
    const n = 200;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        publish(client, 'devices/qos1-order/telemetry', JSON.stringify({ ts: Date.now() - 60_000 + i, readings: { t: i } }), 1),
      ),
    );
    expect(sent).toHaveLength(n);
    expect(acked).toEqual(sent);
    await waitFor('every count read', () => (countedAtAck.length === n ? true : undefined));
    // The k-th PUBACK came after at least k readings were counted.
    countedAtAck.forEach((count, k) => expect(count).toBeGreaterThanOrEqual(k + 1));
    await client.endAsync();
  });

  it("acknowledges QoS 1 publishes on other topics in order with the same client's ingest publishes [MQTT-4.6.0-2]", async () => {
    const client = await connect(tg.mqttUrl, { clientId: 'qos1-mixed' });
    const sent: number[] = [];
    const acked: number[] = [];
    client.on('packetsend', (p) => {
      if (p.cmd === 'publish' && p.qos === 1) sent.push(p.messageId!);
    });
    client.on('packetreceive', (p) => {
      if (p.cmd === 'puback') acked.push(p.messageId!);
    });
    // Every third publish is on a topic that is not ingest: aedes would acknowledge it at once, ahead of the
    // ingest publishes before it that wait for the gateway's log.
    const n = 150;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        i % 3 === 2
          ? publish(client, 'devices/qos1-mixed/status', `note ${i}`, 1)
          : publish(client, 'devices/qos1-mixed/telemetry', JSON.stringify({ ts: Date.now() - 60_000 + i, readings: { t: i } }), 1),
      ),
    );
    expect(sent).toHaveLength(n);
    expect(acked).toEqual(sent);
    await client.endAsync();
  });

  it('delivers QoS 1 ingest publishes at QoS 1 to a subscriber, and queues them for a persistent session while it is away', async () => {
    const watcher = await connect(tg.mqttUrl, { clientId: 'watcher-1', clean: false });
    await watcher.subscribeAsync('devices/+/telemetry', { qos: 1 });
    const device = await connect(tg.mqttUrl, { clientId: 'qos1-watched' });
    const got: { payload: string; qos: number }[] = [];
    watcher.on('message', (_t, payload, packet) => got.push({ payload: payload.toString(), qos: packet.qos }));
    const reading = (i: number) => JSON.stringify({ ts: Date.now() - 60_000 + i, readings: { t: i } });
    const first = reading(1);
    await publish(device, 'devices/qos1-watched/telemetry', first, 1);
    await waitFor('the live delivery', () => (got.length === 1 ? true : undefined));
    expect(got).toEqual([{ payload: first, qos: 1 }]);
    // Its session goes offline once the broker has seen the disconnect: until then a publish is delivered to the
    // closing connection, not queued.
    const clients = async () => ((await (await fetch(`${tg.httpUrl}/health`)).json()) as { broker: { clients: number } }).broker.clients;
    const connected = await clients();
    await watcher.endAsync();
    await waitFor('the watcher gone', async () => ((await clients()) === connected - 1 ? true : undefined));
    const second = reading(2);
    await publish(device, 'devices/qos1-watched/telemetry', second, 1);
    const queued: { payload: string; qos: number }[] = [];
    const back = await connect(tg.mqttUrl, { clientId: 'watcher-1', clean: false }, (c) =>
      c.on('message', (_t, payload, packet) => queued.push({ payload: payload.toString(), qos: packet.qos })),
    );
    await waitFor('the queued delivery', () => (queued.length === 1 ? true : undefined));
    expect(queued).toEqual([{ payload: second, qos: 1 }]);
    await back.endAsync();
    await device.endAsync();
  });
});

describe('broker thread: when it dies', () => {
  it('the gateway is told (main.ts then saves its state and exits 1), and stops cleanly', async () => {
    const fatal: Error[] = [];
    const tg = await startTestGateway({
      influxUrl: 'http://127.0.0.1:9',
      overrides: { mqtt: { brokerThread: 'on' }, log: { level: 'warn' } },
      deps: { onFatal: (err) => void fatal.push(err) },
    });
    try {
      const broker = tg.gw.broker;
      expect(broker).toBeInstanceOf(BrokerThread);
      // What an uncaught error in the thread ends in: the thread gone while the gateway runs.
      await (broker as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      await waitFor('the gateway told', () => (fatal.length > 0 ? true : undefined));
      expect(fatal).toHaveLength(1);
      expect(fatal[0]!.message).toMatch(/broker thread exited/);
      expect(tg.logLines().some((l) => l.msg === 'broker thread failed')).toBe(true);
      // The gateway's own publishes fail at once rather than waiting for a thread that is gone.
      await expect(
        new Promise<void>((resolve, reject) =>
          broker.publish({ topic: 'alerts/x', payload: Buffer.from('{}'), qos: 1, retain: false }, (err) => (err ? reject(err) : resolve())),
        ),
      ).rejects.toThrow(/closed/);
    } finally {
      await tg.dispose();
    }
  });
});

/** main.ts starts the broker thread before it reads the config (worker-start.ts); the build takes it. */
describe('broker thread: started before the gateway is built', () => {
  it('is the thread the broker runs on, and serves a device', async () => {
    const early = new BrokerWorker();
    const tg = await startTestGateway({
      influxUrl: 'http://127.0.0.1:9',
      overrides: { mqtt: { brokerThread: 'on' }, log: { level: 'warn' } },
      deps: { brokerWorker: early },
    });
    try {
      expect((tg.gw.broker as unknown as { worker: unknown }).worker).toBe(early.worker);
      expect(() => early.take()).toThrow(/already taken/);
      const client = await connect(tg.mqttUrl, { clientId: 'early-dev' });
      await publish(client, 'devices/early-dev/telemetry', JSON.stringify({ ts: Date.now() - 60_000, readings: { t: 1 } }), 1);
      expect(await metricValue(tg.gw, 'readingsAccepted')).toBe(1);
      await client.endAsync();
    } finally {
      await tg.dispose();
    }
  });

  it('one that died before the build took it fails the build with its exit (it is not waited for)', async () => {
    const early = new BrokerWorker();
    const exited = new Promise((resolve) => early.worker.once('exit', resolve));
    await early.worker.terminate();
    await exited; // gone before anyone listened to it
    const dir = mkdtempSync(join(tmpdir(), 'gw-early-dead-'));
    try {
      await expect(
        startTestGateway({
          influxUrl: 'http://127.0.0.1:9',
          dir,
          overrides: { mqtt: { brokerThread: 'on' }, log: { level: 'silent' } },
          deps: { brokerWorker: early },
        }),
      ).rejects.toThrow(/broker thread exited/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('discard() ends one nobody took (mqtt.brokerThread off)', async () => {
    const early = new BrokerWorker();
    const exited = new Promise((resolve) => early.worker.once('exit', resolve));
    early.discard();
    await exited;
    expect(() => early.take()).toThrow(/already taken/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { partitionOf } from '../../gateway/cluster/names.js';
import type { Reading } from '../../gateway/pipeline/types.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import type { TestGateway } from '../support/gateway.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';
import { clusterStatus, ownedPartitions, startClusterGateway } from '../support/cluster.js';
import { connect, publish } from '../support/mqtt.js';
import { referenceWindows } from '../support/reference.js';
import { storedWindows, windowMismatches } from '../support/telemetry.js';
import { waitFor } from '../support/wait.js';

const RULES = `rules:
  - name: hot
    match: { device: "*", sensor: temperature }
    above: 30
    severity: critical
`;

/**
 * Two gateways on a three-node NATS cluster (JetStream, 3 replicas), in this process: devices publish to either
 * gateway, each device's readings are worked by the owner of its partition, and the windows in InfluxDB are exact;
 * an alert fired by the worker on one gateway reaches a subscriber of the other, retained.
 */
describe('cluster of two gateways on NATS JetStream', () => {
  let nats: NatsCluster;
  let influx: InfluxServer;
  let a: TestGateway;
  let b: TestGateway;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsCluster(3), startInfluxd()]);
    a = await startClusterGateway(influx.url, 'gw-a', nats.urls, RULES);
    b = await startClusterGateway(influx.url, 'gw-b', nats.urls, RULES);
    // Both hold their fair share (4 of 8) once b has joined and a has handed over.
    await waitFor(
      'partitions shared',
      async () => (await ownedPartitions(a.httpUrl)).length === 4 && (await ownedPartitions(b.httpUrl)).length === 4,
      60_000,
      200,
    );
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync().catch(() => undefined);
    await a?.dispose();
    await b?.dispose();
    await Promise.all([nats?.stop(), influx?.dispose()]);
  });

  it('shares the partitions: each one owned by exactly one gateway', async () => {
    const pa = await ownedPartitions(a.httpUrl);
    const pb = await ownedPartitions(b.httpUrl);
    expect([...pa, ...pb].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('writes exact windows for QoS 1 and QoS 0 readings sent to either gateway', async () => {
    const base = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    const ca = await connect(a.mqttUrl, { clientId: 'pub-a' });
    const cb = await connect(b.mqttUrl, { clientId: 'pub-b' });
    clients.push(ca, cb);
    const expected: Reading[] = [];
    for (let d = 0; d < 6; d++) {
      const device = `dev-${d}`;
      for (let i = 0; i < 20; i++) {
        const ts = base + i * 200;
        const value = Math.round((d * 100 + i * 1.37) * 1000) / 1000;
        expected.push({ device, sensor: 'humidity', ts, value });
        // Alternate gateways and QoS; the odd ones also sent twice (a resend: stored once, counted once).
        const client = i % 2 === 0 ? ca : cb;
        const payload = JSON.stringify({ ts, readings: { humidity: value } });
        await publish(client, `devices/${device}/telemetry`, payload, (i % 3 === 0 ? 0 : 1) as 0 | 1);
        if (i % 2 === 1) await publish(i % 4 === 1 ? ca : cb, `devices/${device}/telemetry`, payload, 1);
      }
    }
    const want = referenceWindows(expected, 1000);
    const stored = await waitFor(
      'every window in InfluxDB',
      async () => {
        const s = await storedWindows(influx, 'cl-gw');
        return windowMismatches(s, want).length === 0 ? s : undefined;
      },
      60_000,
      250,
    );
    expect(windowMismatches(stored, want)).toEqual([]);
    // Health and metrics of each node: partitions owned, JetStream publish latency observed, checkpoints saved.
    for (const g of [a, b]) {
      const text = await (await fetch(`${g.httpUrl}/metrics`)).text();
      const value = (name: string) =>
        text
          .split('\n')
          .filter((l) => l.startsWith(name))
          .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      expect(value('gateway_cluster_partitions_owned')).toBe(4);
      expect(value('gateway_cluster_publish_seconds_count')).toBeGreaterThan(0);
      expect(value('gateway_cluster_checkpoints_total{result="saved"}')).toBeGreaterThan(0);
      expect((await clusterStatus(g.httpUrl)).nats.connected).toBe(true);
    }
  });

  it('an alert fired by the worker on gateway B reaches a subscriber of gateway A, retained', async () => {
    const owned = new Set(await ownedPartitions(b.httpUrl));
    let device = '';
    for (let i = 0; device === ''; i++) if (owned.has(partitionOf(`hot-${i}`, 8))) device = `hot-${i}`;
    const sender = await connect(a.mqttUrl, { clientId: 'hot-sender' });
    clients.push(sender);
    await publish(sender, `devices/${device}/sensors/temperature`, JSON.stringify({ ts: Date.now(), value: 45 }), 1);
    // Subscribing after it fired: only the retained message can deliver it.
    await waitFor(
      'alert retained on A',
      async () => {
        const sub = await connect(a.mqttUrl, { clientId: `sub-${Date.now()}` });
        try {
          const got = new Promise<{ retain: boolean; state: string } | undefined>((resolve) => {
            sub.on('message', (_t, payload, packet) => resolve({ retain: packet.retain, state: (JSON.parse(payload.toString()) as { state: string }).state }));
            setTimeout(() => resolve(undefined), 1000);
          });
          await sub.subscribeAsync(`alerts/${device}/temperature/hot`, { qos: 1 });
          const m = await got;
          return m?.retain === true && m.state === 'firing' ? m : undefined;
        } finally {
          await sub.endAsync();
        }
      },
      30_000,
      100,
    );
    expect((await clusterStatus(b.httpUrl)).partitions.owned.some((p) => p.partition === partitionOf(device, 8))).toBe(true);
  });

  it('a command the gateway publishes on B (not retained) reaches a device subscribed on A', async () => {
    const device = await connect(a.mqttUrl, { clientId: 'cmd-device' });
    clients.push(device);
    const got = new Promise<string>((resolve) =>
      device.on('message', (topic, payload) => topic === 'devices/cmd-device/commands/rebirth' && resolve(payload.toString())),
    );
    await device.subscribeAsync('devices/cmd-device/commands/#', { qos: 1 });
    await new Promise<void>((resolve, reject) =>
      b.gw.broker.publish({ topic: 'devices/cmd-device/commands/rebirth', payload: Buffer.from('{"rebirth":true}'), qos: 1, retain: false }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    expect(await got).toBe('{"rebirth":true}');
  });

  it('a third gateway takes its share on join, and a graceful stop hands its partitions back with no replay gap', async () => {
    const c = await startClusterGateway(influx.url, 'gw-c', nats.urls, RULES);
    let stopped = false;
    try {
      await waitFor('three shares', async () => (await ownedPartitions(c.httpUrl)).length >= 2, 60_000, 200);
      const base = Math.floor((Date.now() - 30_000) / 1000) * 1000;
      const pub = await connect(a.mqttUrl, { clientId: 'pub-c' });
      clients.push(pub);
      const expected: Reading[] = [];
      const send = async (from: number, to: number) => {
        for (let i = from; i < to; i++) {
          for (let d = 0; d < 8; d++) {
            const ts = base + i * 100;
            const value = d * 10 + i / 8;
            expected.push({ device: `mv-${d}`, sensor: 'level', ts, value });
            await publish(pub, `devices/mv-${d}/sensors/level`, JSON.stringify({ ts, value }), 1);
          }
        }
      };
      await send(0, 20);
      const cOwned = await ownedPartitions(c.httpUrl);
      const sending = send(20, 60);
      const stopAt = Date.now();
      await c.stop();
      stopped = true;
      await sending;
      const handed = c.logLines().filter((l) => l['msg'] === 'partition handed over');
      expect(handed.map((l) => l['partition']).sort()).toEqual([...cOwned].sort());
      expect(handed.every((l) => l['saved'] === true)).toBe(true);
      // Each partition is resumed by a or b right after the last message c processed: nothing replayed, nothing skipped.
      for (const h of handed) {
        const taken = await waitFor(
          `partition ${String(h['partition'])} taken`,
          () =>
            [...a.logLines(), ...b.logLines()].find(
              (l) => l['msg'] === 'partition taken' && l['partition'] === h['partition'] && Date.parse(String(l['time'])) >= stopAt,
            ),
          30_000,
          100,
        );
        expect(taken['from']).toBe('other');
        expect(taken['startSeq']).toBe((h['seq'] as number) + 1);
      }
      const want = referenceWindows(expected, 1000);
      const stored = await waitFor(
        'moved windows in InfluxDB',
        async () => {
          const s = await storedWindows(influx, 'cl-gw');
          return windowMismatches(new Map([...s].filter(([k]) => k.startsWith('mv-'))), want).length === 0 ? s : undefined;
        },
        60_000,
        250,
      );
      expect(windowMismatches(new Map([...stored].filter(([k]) => k.startsWith('mv-'))), want)).toEqual([]);
    } finally {
      if (!stopped) await c.stop();
      await c.dispose();
    }
  });
});

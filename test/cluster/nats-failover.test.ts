import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../gateway/pipeline/types.js';
import { clusterNames } from '../../gateway/cluster/names.js';
import { clusterStatus, ownedPartitions, startClusterGateway } from '../support/cluster.js';
import type { TestGateway } from '../support/gateway.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';
import { referenceWindows } from '../support/reference.js';
import { FailoverDevice } from '../support/reliable-publisher.js';
import { storedWindows, windowMismatches } from '../support/telemetry.js';
import { waitFor } from '../support/wait.js';

/**
 * (b) SIGKILL of the NATS server leading the ingest stream while devices publish at QoS 1 through two gateways:
 * publishes wait for the new leader (PUBACK follows the stream's ack), and no acknowledged reading is lost: every
 * window is exact in InfluxDB.
 */
describe('cluster: SIGKILL of the stream leader NATS server', () => {
  let nats: NatsCluster;
  let influx: InfluxServer;
  const gws: TestGateway[] = [];

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsCluster(3), startInfluxd()]);
    gws.push(await startClusterGateway(influx.url, 'gw-a', nats.urls));
    gws.push(await startClusterGateway(influx.url, 'gw-b', nats.urls));
    await waitFor(
      'shares',
      async () => (await ownedPartitions(gws[0]!.httpUrl)).length === 4 && (await ownedPartitions(gws[1]!.httpUrl)).length === 4,
      60_000,
      200,
    );
  });

  afterAll(async () => {
    for (const g of gws) await g.dispose();
    await Promise.all([nats?.stop(), influx?.dispose()]);
  });

  it('loses no acknowledged reading', async () => {
    const stream = clusterNames('cl-gw').stream;
    const devices = Array.from({ length: 6 }, (_, i) => new FailoverDevice(`nl-${i}`, () => [gws[i % 2]!.mqttUrl, gws[(i + 1) % 2]!.mqttUrl], 1));
    const acked: Reading[] = [];
    const base = Math.floor(Date.now() / 1000) * 1000;
    let stop = false;
    const run = async (d: FailoverDevice) => {
      for (let i = 0; !stop; i++) {
        const ts = base + i * 100;
        const value = Math.round((i * 1.113 + d.id.length) * 1000) / 1000;
        await d.send(`devices/${d.id}/sensors/p`, JSON.stringify({ ts, value }));
        acked.push({ device: d.id, sensor: 'p', ts, value });
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const running = devices.map(run);
    await new Promise((r) => setTimeout(r, 2_000));
    const leader = await nats.streamLeader(stream);
    const index = nats.nodes.findIndex((n) => n.name === leader);
    expect(index).toBeGreaterThanOrEqual(0);
    const before = acked.length;
    await nats.kill(index, 'SIGKILL');
    await waitFor(
      'a new stream leader',
      async () => {
        const l = await nats.streamLeader(stream);
        return l !== undefined && l !== leader;
      },
      60_000,
      250,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    stop = true;
    await Promise.all(running);
    for (const d of devices) await d.close();
    expect(acked.length).toBeGreaterThan(before);

    const want = referenceWindows(acked, 1000);
    await waitFor(
      'every acknowledged window exact',
      async () => windowMismatches(new Map([...(await storedWindows(influx, 'cl-gw'))].filter(([k]) => k.startsWith('nl-'))), want).length === 0,
      60_000,
      250,
    ).catch(() => undefined);
    const mismatches = windowMismatches(new Map([...(await storedWindows(influx, 'cl-gw'))].filter(([k]) => k.startsWith('nl-'))), want);
    if (mismatches.length > 0)
      for (const g of gws) {
        // What each gateway works now (processed and checkpointed sequences, lag), then what it complained of.
        console.log(JSON.stringify(await clusterStatus(g.httpUrl).catch((err: unknown) => String(err))));
        console.log(
          g
            .logLines()
            .filter((l) => (l['level'] as number) >= 40)
            .map((l) => JSON.stringify(l))
            .join('\n'),
        );
      }
    expect(mismatches).toEqual([]);
  });

  it('withholds the PUBACK while the stream has no quorum, and sends it once a majority is back', async () => {
    // The leader was killed above; killing one more of the two left leaves no majority of the stream's replicas.
    const running = nats.nodes.map((n, i) => (n.running() ? i : -1)).filter((i) => i >= 0);
    expect(running).toHaveLength(2);
    await nats.kill(running[0]!, 'SIGKILL');
    const d = new FailoverDevice('nq-1', () => [gws[0]!.mqttUrl], 1);
    const ts = Date.now();
    let acked = false;
    const sending = d.send('devices/nq-1/sensors/p', JSON.stringify({ ts, value: 42.5 })).then(() => (acked = true));
    await new Promise((r) => setTimeout(r, 3_000));
    expect(acked).toBe(false);
    await nats.restart(running[0]!);
    await sending;
    expect(acked).toBe(true);
    await d.close();
    await waitFor(
      'the reading in InfluxDB',
      async () => (await storedWindows(influx, 'cl-gw')).get(`nq-1|p|${Math.floor(ts / 1000) * 1000}`)?.count === 1,
      60_000,
      250,
    );
  });
});

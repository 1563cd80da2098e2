import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../gateway/cluster/names.js';
import type { Reading } from '../../gateway/pipeline/types.js';
import { ownedPartitions, spawnClusterPair } from '../support/cluster.js';
import { conflictingWrites, influxRecorder, type InfluxRecorder } from '../support/influx-recorder.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';
import { portsOf, spawnGateway, type GatewayFolder, type GatewayProcess } from '../support/process.js';
import { referenceWindows } from '../support/reference.js';
import { double, reading, TestEdgeNode } from '../support/sparkplug-edge.js';
import { storedWindows, windowMismatches } from '../support/telemetry.js';
import { waitFor } from '../support/wait.js';

const GROUP = 'plant1';

/**
 * SIGKILL of the gateway process that owns a Sparkplug edge node's partition, mid-stream, the edge node connected
 * (QoS 1) to the other gateway: the survivor takes the partition, restores the node's session from the last
 * checkpoint and replays the stream after it. Every acknowledged reading's window is exact in InfluxDB, no window
 * is written two ways, and the replay neither invents a seq gap nor needs a rebirth (docs/cluster.md, "Sparkplug B").
 */
describe('cluster: SIGKILL of the gateway owning a Sparkplug edge node', () => {
  let nats: NatsCluster;
  let influx: InfluxServer;
  let rec: InfluxRecorder;
  let root: string;
  let folders: GatewayFolder[] = [];
  let procs: (GatewayProcess | undefined)[] = [];
  let node: TestEdgeNode | undefined;

  beforeAll(async () => {
    [nats, influx] = await Promise.all([startNatsCluster(3), startInfluxd()]);
    rec = await influxRecorder(influx.url);
    root = mkdtempSync(join(tmpdir(), 'cluster-sp-failover-'));
    ({ folders, procs } = await spawnClusterPair(root, rec.url, nats.urls, 'spf-gw', {
      sparkplug: { hostId: 'spf-host', reorderTimeout: '300ms', rebirthBackoff: '1m' },
    }));
  });

  afterAll(async () => {
    await node?.end().catch(() => undefined);
    for (const p of procs) await p?.kill('SIGKILL');
    await rec?.close();
    await Promise.all([nats?.stop(), influx?.dispose()]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the survivor continues the node session from the checkpoint: exact windows, no gap, no rebirth', async () => {
    const owned = await Promise.all(procs.map((p) => ownedPartitions(p!.httpUrl)));
    const edge = 'press-line';
    const victim = owned[0]!.includes(partitionOf(`${GROUP}/${edge}`, 8)) ? 0 : 1;
    const survivor = 1 - victim;
    node = await TestEdgeNode.connect(procs[survivor]!.mqttUrl, GROUP, edge, 1);
    node.qos = 1;
    const sent: Reading[] = [];
    const base = Math.floor((Date.now() - 30_000) / 1000) * 1000;
    await node.nbirth([double({ name: 'Temp', alias: 1 }, base, 20)], base);
    await node.send('DBIRTH', 'm4', [double({ name: 'Speed', alias: 2 }, base, 100)], base);
    sent.push(reading(`${GROUP}/${edge}`, 'Temp', base, 20), reading(`${GROUP}/${edge}/m4`, 'Speed', base, 100));
    let stop = false;
    const running = (async () => {
      for (let i = 1; !stop; i++) {
        const ts = base + i * 50;
        const value = Math.round((100 + i * 0.37) * 1000) / 1000;
        // QoS 1: resolves on the PUBACK, sent only once JetStream stored the publish.
        await node!.send('DDATA', 'm4', [double({ alias: 2 }, ts, value)]);
        sent.push(reading(`${GROUP}/${edge}/m4`, 'Speed', ts, value));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 2_500));
    await procs[victim]!.kill('SIGKILL');
    procs[victim] = undefined;
    await waitFor('survivor owns every partition', async () => (await ownedPartitions(procs[survivor]!.httpUrl)).length === 8, 30_000, 100);
    await new Promise((r) => setTimeout(r, 2_000));
    stop = true;
    await running;
    // The killed gateway comes back with its folder: its outbox drains the windows it had committed.
    procs[victim] = await spawnGateway(folders[victim]!.configFile, { ports: portsOf(folders[victim]!) });

    const want = referenceWindows(sent, 1000);
    expect(want.size).toBeGreaterThan(4);
    const mine = async () => new Map([...(await storedWindows(influx, 'spf-gw'))].filter(([k]) => k.startsWith(`${GROUP}/${edge}`)));
    await waitFor('windows exact', async () => windowMismatches(await mine(), want).length === 0, 60_000, 250).catch(() => undefined);
    expect(windowMismatches(await mine(), want)).toEqual([]);
    expect(conflictingWrites(rec.writes())).toEqual([]);
    // The replay found the session where the checkpoint left it: no gap, no DATA without a birth, no rebirth.
    const s = procs[survivor]!;
    for (const event of ['seq_gap', 'no_birth', 'unknown_alias']) expect(await s.metric(`gateway_sparkplug_events_total{event="${event}"}`), event).toBe(0);
    expect(await s.metric('gateway_sparkplug_rebirths_requested_total')).toBe(0);
    expect(node.commands).toEqual([]);
  });
});

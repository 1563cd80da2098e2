import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { UPayload } from 'sparkplug-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../gateway/auth/password.js';
import { partitionOf } from '../../gateway/cluster/names.js';
import type { Reading } from '../../gateway/pipeline/types.js';
import { clusterStatus, ownedPartitions, startClusterGateway } from '../support/cluster.js';
import type { TestGateway } from '../support/gateway.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { connect } from '../support/mqtt.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';
import { referenceWindows } from '../support/reference.js';
import { reading } from '../support/sparkplug-edge.js';
import { storedWindows, windowMismatches } from '../support/telemetry.js';
import { connectTahu, killTahu, tahuBirth, tahuDouble, type Tahu } from '../support/tahu.js';
import { waitFor } from '../support/wait.js';

const GROUP = 'plant1';
/** Registered edge node ids (Tahu connects with credentials): one of them has its partition on B. */
const CANDIDATES = 24;

/**
 * Sparkplug B in a cluster: Eclipse Tahu's `sparkplug-client` 3.2.4 (an edge node someone else wrote) connected to
 * gateway A, its edge node's partition owned by gateway B, on a three-node NATS cluster. Births and data reach
 * InfluxDB exactly, B's rebirth request reaches the node on A, the cluster's one primary host STATE is retained on
 * every gateway, and after a graceful stop of B, A continues the node's session (aliases, seq) from B's checkpoint:
 * nothing lost, nothing counted twice, no rebirth needed.
 */
describe('Sparkplug B edge node on a cluster of two gateways', () => {
  let nats: NatsCluster;
  let influx: InfluxServer;
  let a: TestGateway;
  let b: TestGateway;
  let bStopped = false;
  let tahu: Tahu | undefined;
  let edge = '';
  const expected: Reading[] = [];
  const rebirths: UPayload[] = [];
  let births = 0;
  const base = Math.floor((Date.now() - 60_000) / 1000) * 1000;

  const dir = mkdtempSync(join(tmpdir(), 'cl-sparkplug-'));

  beforeAll(async () => {
    const hash = await hashSecret('edge-secret');
    const devicesFile = join(dir, 'devices.yaml');
    writeFileSync(devicesFile, ['devices:', ...Array.from({ length: CANDIDATES }, (_, i) => `  - id: edge-${i}\n    passwordHash: ${hash}`), ''].join('\n'));
    const sections = { sparkplug: { hostId: 'cl-host', reorderTimeout: '300ms', rebirthBackoff: '1m' }, auth: { devicesFile } };
    [nats, influx] = await Promise.all([startNatsCluster(3), startInfluxd()]);
    a = await startClusterGateway(influx.url, 'gw-a', nats.urls, undefined, sections);
    b = await startClusterGateway(influx.url, 'gw-b', nats.urls, undefined, sections);
    await waitFor(
      'partitions shared',
      async () => (await ownedPartitions(a.httpUrl)).length === 4 && (await ownedPartitions(b.httpUrl)).length === 4,
      60_000,
      200,
    );
    // An edge node whose partition ({group}/{edge}) B works.
    const owned = new Set(await ownedPartitions(b.httpUrl));
    for (let i = 0; edge === '' && i < CANDIDATES; i++) if (owned.has(partitionOf(`${GROUP}/edge-${i}`, 8))) edge = `edge-${i}`;
    expect(edge).not.toBe('');
  });

  afterAll(async () => {
    tahu?.stop();
    await a?.dispose();
    await b?.dispose();
    await Promise.all([nats?.stop(), influx?.dispose()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Waits until InfluxDB holds exactly the reference windows of the edge node's devices, then compares them all. */
  async function expectExact(): Promise<void> {
    const want = referenceWindows(expected, 1000);
    const mine = async () => new Map([...(await storedWindows(influx, 'cl-gw'))].filter(([k]) => k.startsWith(`${GROUP}/${edge}`)));
    const stored = await waitFor(
      'the edge node windows in InfluxDB',
      async () => ((s) => (windowMismatches(s, want).length === 0 ? s : undefined))(await mine()),
      60_000,
      250,
    );
    expect(windowMismatches(stored, want)).toEqual([]);
    expect(stored.size).toBe(want.size);
  }

  const birth = (ts: number, temp: number, speed: number) => {
    births++;
    expected.push(...tahuBirth(tahu!, { group: GROUP, edge, device: 'press' }, ts, temp, speed));
  };
  const data = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const ts = base + i * 250;
      tahu!.publishDeviceData('press', { timestamp: ts, metrics: [tahuDouble(undefined, 2, ts, 1500 + i)] });
      expected.push(reading(`${GROUP}/${edge}/press`, 'Motor/Speed', ts, 1500 + i));
    }
  };

  /** The retained STATE a new subscriber of `gw` gets. */
  async function retainedState(gw: TestGateway): Promise<{ online: boolean; retain: boolean } | undefined> {
    const sub: MqttClient = await connect(gw.mqttUrl, { clientId: `state-${Date.now()}` });
    try {
      const got = new Promise<{ online: boolean; retain: boolean } | undefined>((resolve) => {
        sub.on('message', (_t, payload, packet) => resolve({ online: (JSON.parse(payload.toString()) as { online: boolean }).online, retain: packet.retain }));
        setTimeout(() => resolve(undefined), 1000);
      });
      await sub.subscribeAsync('spBv1.0/STATE/cl-host', { qos: 1 });
      return await got;
    } finally {
      await sub.endAsync();
    }
  }

  it('births and data from an edge node on A, worked by B, reach InfluxDB exactly; B asks a rebirth the node on A answers', async () => {
    const client = await connectTahu({
      serverUrl: a.mqttUrl,
      group: GROUP,
      edge,
      password: 'edge-secret',
      onRebirth: (payload) => {
        rebirths.push(payload);
        birth(base + 20_000, 30, 1600);
      },
    });
    tahu = client;
    birth(base, 20.5, 1400);
    data(1, 40);
    await expectExact();
    expect(rebirths).toEqual([]);
    const partition = partitionOf(`${GROUP}/${edge}`, 8);
    expect((await clusterStatus(b.httpUrl)).partitions.owned.some((p) => p.partition === partition)).toBe(true);
    const healthB = (await (await fetch(`${b.httpUrl}/health`)).json()) as { sparkplug: { nodes: { edge: string; online: boolean; devices: number }[] } };
    expect(healthB.sparkplug.nodes).toEqual([expect.objectContaining({ edge, online: true, devices: 1 })]);

    // DATA with an alias no birth defined: B's worker asks for a rebirth, through the relay to A's broker.
    client.publishDeviceData('press', { timestamp: base + 15_000, metrics: [tahuDouble(undefined, 99, base + 15_000, 1)] });
    await waitFor('the rebirth', () => (births === 2 ? true : undefined), 30_000);
    expect(rebirths).toHaveLength(1);
    data(81, 100);
    await expectExact();
    expect(await (await fetch(`${b.httpUrl}/metrics`)).text()).toContain('gateway_sparkplug_rebirths_requested_total{reason="unknown_alias"} 1');
    // The cluster is one primary host: its STATE is online and retained on both gateways.
    for (const g of [a, b]) expect(await retainedState(g)).toEqual({ online: true, retain: true });
  });

  it('after a graceful stop of B, A continues the node session from its checkpoint: nothing lost or doubled, no rebirth', async () => {
    expect(births).toBe(2);
    const partition = partitionOf(`${GROUP}/${edge}`, 8);
    const stopAt = Date.now();
    await b.stop();
    bStopped = true;
    const handed = b.logLines().find((l) => l['msg'] === 'partition handed over' && l['partition'] === partition);
    expect(handed?.['saved']).toBe(true);
    const taken = await waitFor(
      'A takes the partition',
      () => a.logLines().find((l) => l['msg'] === 'partition taken' && l['partition'] === partition && Date.parse(String(l['time'])) >= stopAt),
      30_000,
      100,
    );
    expect(taken['startSeq']).toBe((handed!['seq'] as number) + 1);
    // The node goes on by alias, as if nothing happened (its connection is on A).
    data(120, 160);
    await expectExact();
    expect(rebirths).toHaveLength(1);
    const metricsA = await (await fetch(`${a.httpUrl}/metrics`)).text();
    expect(metricsA).not.toMatch(/^gateway_sparkplug_rebirths_requested_total\{[^}]*\} [1-9]/m);
    expect(metricsA).not.toMatch(/^gateway_sparkplug_events_total\{event="(seq_gap|unknown_alias|no_birth)"\} [1-9]/m);
    const healthA = (await (await fetch(`${a.httpUrl}/health`)).json()) as { sparkplug: { nodes: { edge: string; online: boolean }[] } };
    expect(healthA.sparkplug.nodes).toEqual([expect.objectContaining({ edge, online: true })]);
    // B's stop said offline only on its own broker: the cluster's host is still online on A.
    expect(await retainedState(a)).toEqual({ online: true, retain: true });
    expect(bStopped).toBe(true);

    // The node's connection dies without DISCONNECT: A's broker publishes its will (NDEATH, bdSeq 0), which goes
    // through the stream to the partition's new owner (A) and takes the node and its device offline there.
    killTahu(tahu!);
    tahu = undefined;
    await waitFor(
      'the node offline at its new owner',
      async () => {
        const h = (await (await fetch(`${a.httpUrl}/health`)).json()) as { sparkplug: { nodes: { edge: string; online: boolean }[] } };
        return h.sparkplug.nodes.some((n) => n.edge === edge && !n.online) ? true : undefined;
      },
      30_000,
      100,
    );
    expect(await (await fetch(`${a.httpUrl}/metrics`)).text()).toContain('gateway_sparkplug_events_total{event="node_death"} 1');
  });
});

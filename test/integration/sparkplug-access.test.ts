import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../gateway/auth/password.js';
import { encodePayload } from '../../gateway/sparkplug/codec.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { double, reading, TestEdgeNode } from '../support/sparkplug-edge.js';
import { storedWindows } from '../support/telemetry.js';
import { referenceWindows } from '../support/reference.js';
import { waitFor } from '../support/wait.js';
import { connect } from '../support/mqtt.js';

/**
 * A registered edge node (the device of the same id) under `auth.anonymous: deny`, the primary host STATE, and a
 * reader (`role: reader`) watching `spBv1.0/#` that may publish nothing there.
 */
describe('Sparkplug B: registered edge nodes and the primary host STATE', () => {
  let influx: InfluxServer;
  let tg: TestGateway | undefined;

  beforeAll(async () => {
    influx = await startInfluxd();
  });
  afterAll(async () => {
    await tg?.dispose();
    await influx?.dispose();
  });

  it('a device whose id is the edge node id publishes for that node only; STATE online on start, offline at stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-sparkplug-'));
    const devicesFile = join(dir, 'devices.yaml');
    writeFileSync(
      devicesFile,
      [
        'devices:',
        '  - id: line-7',
        `    passwordHash: ${await hashSecret('line-7-secret')}`,
        '  - id: scada-view',
        '    role: reader',
        `    passwordHash: ${await hashSecret('reader-secret')}`,
        '',
      ].join('\n'),
    );
    tg = await startTestGateway({
      influxUrl: influx.url,
      dir,
      rules: 'rules: []\n',
      overrides: { auth: { devicesFile, anonymous: 'deny' }, sparkplug: { hostId: 'edge-gw' } },
    });
    const creds = { username: 'line-7', password: 'line-7-secret' };
    const base = Math.floor((Date.now() - 30_000) / 1000) * 1000;
    const viewer = await connect(tg.mqttUrl, { clientId: 'scada-view', username: 'scada-view', password: 'reader-secret' });
    const watched: { topic: string; retain: boolean }[] = [];
    viewer.on('message', (topic, _p, packet) => watched.push({ topic, retain: packet.retain }));
    expect((await viewer.subscribeAsync('spBv1.0/#', { qos: 1 })).map((g) => g.qos)).toEqual([1]);
    const n = await TestEdgeNode.connect(tg.mqttUrl, 'plant9', 'line-7', 1, creds);
    await waitFor('the retained STATE', () => (n.states.length > 0 ? true : undefined));
    expect(n.states[0]).toMatchObject({ topic: 'spBv1.0/STATE/edge-gw', state: { online: true }, retain: true });
    await n.nbirth([double({ name: 'Temp', alias: 1 }, base, 10)]);
    await n.send('DBIRTH', 'oven', [double({ name: 'Zone/1', alias: 2 }, base, 200)]);
    await n.send('DDATA', 'oven', [double({ alias: 2 }, base + 100, 210)]);
    const expected = [
      reading('plant9/line-7', 'Temp', base, 10),
      reading('plant9/line-7/oven', 'Zone/1', base, 200),
      reading('plant9/line-7/oven', 'Zone/1', base + 100, 210),
    ];
    const reference = referenceWindows(expected, 1000);
    await waitFor('the windows', async () => {
      const s = await storedWindows(influx, 'test-gw');
      return [...reference].every(([k, ref]) => s.get(k)?.count === ref.count && s.get(k)?.max === ref.max) ? true : undefined;
    });
    // Another edge node's topics are refused (and MQTT 3.1.1 has no other answer than closing the connection).
    const other = await TestEdgeNode.connect(tg.mqttUrl, 'plant9', 'line-7', 2, creds).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(TestEdgeNode);
    const intruder = other as TestEdgeNode;
    const closed = new Promise<void>((resolve) => intruder.client.once('close', () => resolve()));
    intruder.client.publish('spBv1.0/plant9/NDATA/line-8', Buffer.from(encodePayload({ seq: 0, metrics: [] })), { qos: 1 });
    await closed;
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'publish_denied' })).toBe(1);
    // The reader saw the host STATE, the births and the data; it may not send a command nor claim a STATE.
    await waitFor('the reader saw the DDATA', () => watched.some((m) => m.topic === 'spBv1.0/plant9/DDATA/line-7/oven'));
    const topics = watched.map((m) => m.topic);
    for (const t of ['spBv1.0/STATE/edge-gw', 'spBv1.0/plant9/NBIRTH/line-7', 'spBv1.0/plant9/DBIRTH/line-7/oven']) expect(topics).toContain(t);
    const viewerClosed = new Promise<void>((resolve) => viewer.once('close', () => resolve()));
    viewer.publish('spBv1.0/plant9/NCMD/line-7', Buffer.from(encodePayload({ seq: 0, metrics: [] })), { qos: 1 });
    await viewerClosed;
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'publish_denied' })).toBe(2);
    await viewer.endAsync(true);
    const stopping = tg.stop();
    await stopping;
    expect(n.states.at(-1)).toMatchObject({ topic: 'spBv1.0/STATE/edge-gw', state: { online: false } });
    await n.end().catch(() => undefined);
  });
});

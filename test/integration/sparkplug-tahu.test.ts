import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UPayload } from 'sparkplug-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../gateway/auth/password.js';
import type { Reading } from '../../gateway/pipeline/types.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { reading } from '../support/sparkplug-edge.js';
import { expectExactWindows } from '../support/exact-windows.js';
import { connectTahu, killTahu, tahuBirth, tahuDouble, type Tahu } from '../support/tahu.js';
import { waitFor } from '../support/wait.js';

/**
 * A Sparkplug B edge node someone else wrote: Eclipse Tahu's `sparkplug-client` 3.2.4 (its own MQTT.js 4 and its
 * `sparkplug-payload` encoder) against the real gateway and a real InfluxDB, connected as the registered device whose
 * id is its edge node id. Tahu subscribes to `spBv1.0/{group}/NCMD/{edge}/#`, sends bdSeq as the last NBIRTH metric
 * (UInt64, always 0), its will NDEATH at QoS 0, every publish at QoS 0, and emits `ncmd` (not a `rebirth` event): the
 * application answers `Node Control/Rebirth` by publishing its births again (Sparkplug 3.0, 6.4, "NCMD").
 */
const RULES = `rules:
  - name: silent
    match: { device: "plant1/*", sensor: "*" }
    noData: 1h
    severity: warning
`;
const interval = 1000;
const EDGE = 'tahu-1';

describe('Eclipse Tahu sparkplug-client as an edge node of the gateway', () => {
  let influx: InfluxServer;
  let tg: TestGateway | undefined;
  let tahu: Tahu | undefined;

  beforeAll(async () => {
    influx = await startInfluxd();
  });
  afterEach(async () => {
    tahu?.stop();
    tahu = undefined;
    await tg?.dispose();
    tg = undefined;
  });
  afterAll(async () => {
    await influx?.dispose();
  });

  const expectExact = (prefix: string, expected: readonly Reading[]) => expectExactWindows(influx, 'test-gw', prefix, expected, interval);

  it('births with aliases, DDATA by alias, a rebirth asked for an unknown alias, NDEATH by will firing noData at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-tahu-'));
    const devicesFile = join(dir, 'devices.yaml');
    writeFileSync(devicesFile, ['devices:', `  - id: ${EDGE}`, `    passwordHash: ${await hashSecret('tahu-secret')}`, ''].join('\n'));
    tg = await startTestGateway({
      influxUrl: influx.url,
      dir,
      rules: RULES,
      overrides: { auth: { devicesFile, anonymous: 'deny' }, sparkplug: { reorderTimeout: '300ms', rebirthBackoff: '1m' } },
    });
    const base = Math.floor((Date.now() - 60_000) / interval) * interval;
    const expected: Reading[] = [];
    const rebirths: UPayload[] = [];
    let births = 0;
    const birth = (ts: number, temp: number, speed: number) => {
      births++;
      expected.push(...tahuBirth(client, { group: 'plant1', edge: EDGE, device: 'press' }, ts, temp, speed));
    };
    const client = await connectTahu({
      serverUrl: tg.mqttUrl,
      group: 'plant1',
      edge: EDGE,
      password: 'tahu-secret',
      onRebirth: (payload) => {
        rebirths.push(payload);
        birth(base + 5000, 30, 1600);
      },
    });
    tahu = client;
    birth(base, 20.5, 1500);
    for (let i = 1; i <= 10; i++) {
      const ts = base + i * 300;
      client.publishDeviceData('press', { timestamp: ts, metrics: [tahuDouble(undefined, 2, ts, 1500 + i)] });
      expected.push(reading(`plant1/${EDGE}/press`, 'Motor/Speed', ts, 1500 + i));
    }
    await expectExact(`plant1/${EDGE}`, expected);
    expect(rebirths).toEqual([]);

    // DATA with an alias no birth defined: the gateway sends Node Control/Rebirth, Tahu's application re-births.
    client.publishDeviceData('press', { timestamp: base + 4000, metrics: [tahuDouble(undefined, 99, base + 4000, 1)] });
    await waitFor('the rebirth', () => (births === 2 ? true : undefined));
    for (let i = 1; i <= 5; i++) {
      const ts = base + 5000 + i * 200;
      client.publishDeviceData('press', { timestamp: ts, metrics: [tahuDouble(undefined, 2, ts, 1600 + i)] });
      expected.push(reading(`plant1/${EDGE}/press`, 'Motor/Speed', ts, 1600 + i));
    }
    await expectExact(`plant1/${EDGE}`, expected);
    expect(rebirths).toHaveLength(1);
    const metrics = await (await fetch(`${tg.httpUrl}/metrics`)).text();
    expect(metrics).toContain('gateway_sparkplug_rebirths_requested_total{reason="unknown_alias"} 1');
    expect(await metricValue(tg.gw, 'readingsAccepted')).toBe(expected.length);

    // The socket dies without DISCONNECT: the broker publishes Tahu's will, the NDEATH with bdSeq 0.
    killTahu(client);
    tahu = undefined;
    for (const device of [`plant1/${EDGE}`, `plant1/${EDGE}/press`]) {
      const rows = await waitFor(`noData firing for ${device}`, async () => {
        const r = await influx.rows(`SELECT "state","rule","sensor" FROM "alerts" WHERE "device" = '${device}'`, 'iot');
        return r.length > 0 ? r : undefined;
      });
      expect(rows.map((r) => [r['rule'], r['sensor'], r['state']])).toEqual([['silent', device.endsWith('press') ? 'Motor/Speed' : 'Temp', 'firing']]);
    }
    const health = (await (await fetch(`${tg.httpUrl}/health`)).json()) as { sparkplug: { nodes: { edge: string; online: boolean }[] } };
    expect(health.sparkplug.nodes.map((x) => [x.edge, x.online])).toEqual([[EDGE, false]]);
    expect(await (await fetch(`${tg.httpUrl}/metrics`)).text()).toContain('gateway_sparkplug_events_total{event="node_death"} 1');
  });
});

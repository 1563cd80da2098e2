import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../gateway/pipeline/types.js';
import { encodePayload } from '../../gateway/sparkplug/codec.js';
import { DataType } from '../../gateway/sparkplug/datatypes.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { connect } from '../support/mqtt.js';
import { double, reading, TestEdgeNode } from '../support/sparkplug-edge.js';
import { expectExactWindows } from '../support/exact-windows.js';
import { waitFor } from '../support/wait.js';

/**
 * The gateway as a Sparkplug B host, end to end: a real edge node (MQTT.js + our schema, support/sparkplug-edge.ts)
 * against the real gateway (aedes on its thread where the machine allows) and a real InfluxDB. Every case ends with
 * the windows InfluxDB holds for its edge node equal to a reference computed from the readings that should count.
 */
const RULES = `rules:
  - name: silent
    match: { device: "plant1/*", sensor: "*" }
    noData: 1h
    severity: warning
  - name: fast
    match: { device: "plant1/*/*", sensor: "Motor/*" }
    above: 5000
    severity: critical
`;

const interval = 1000;

describe('Sparkplug B edge nodes into the gateway', () => {
  let influx: InfluxServer;
  let tg: TestGateway | undefined;
  const nodes: TestEdgeNode[] = [];
  const base = Math.floor((Date.now() - 60_000) / interval) * interval;

  beforeAll(async () => {
    influx = await startInfluxd();
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.end().catch(() => undefined);
    await tg?.dispose();
    tg = undefined;
  });
  afterAll(async () => {
    await influx?.dispose();
  });

  const start = async (overrides = {}, dir?: string) =>
    startTestGateway({
      influxUrl: influx.url,
      rules: RULES,
      overrides: { sparkplug: { reorderTimeout: '300ms', rebirthBackoff: '1m' }, ...overrides },
      ...(dir ? { dir } : {}),
    });
  const edge = async (t: TestGateway, name: string, bdSeq = 0) => {
    const n = await TestEdgeNode.connect(t.mqttUrl, 'plant1', name, bdSeq);
    nodes.push(n);
    return n;
  };

  /** Waits until InfluxDB holds exactly the reference windows of the devices below `prefix`, then compares them all. */
  const expectExact = (prefix: string, expected: readonly Reading[]) => expectExactWindows(influx, 'test-gw', prefix, expected, interval);

  const alertPoints = async (device: string) => influx.rows(`SELECT "state","rule","sensor" FROM "alerts" WHERE "device" = '${device}'`, 'iot');

  it('births with aliases, then DATA by alias: one reading per numeric metric, exact in InfluxDB', async () => {
    tg = await start();
    const n = await edge(tg, 'e1');
    const expected: Reading[] = [];
    await n.nbirth([double({ name: 'Temp', alias: 1 }, base, 20.5)]);
    expected.push(reading('plant1/e1', 'Temp', base, 20.5));
    await n.send('DBIRTH', 'press', [
      double({ name: 'Motor/Speed', alias: 2 }, base, 1500),
      { name: 'Motor/Running', alias: 3n, datatype: DataType.Boolean, timestamp: BigInt(base), value: { case: 'booleanValue', value: true } },
      { name: 'Mode', alias: 4n, datatype: DataType.String, timestamp: BigInt(base), value: { case: 'stringValue', value: 'auto' } },
      { name: 'Count', alias: 5n, datatype: DataType.UInt32, timestamp: BigInt(base), value: { case: 'longValue', value: 7n } },
    ]);
    expected.push(
      reading('plant1/e1/press', 'Motor/Speed', base, 1500),
      reading('plant1/e1/press', 'Motor/Running', base, 1),
      reading('plant1/e1/press', 'Count', base, 7),
    );
    for (let i = 1; i <= 20; i++) {
      const ts = base + i * 150;
      await n.send('NDATA', undefined, [double({ alias: 1 }, ts, 20 + i / 10)]);
      await n.send('DDATA', 'press', [
        double({ alias: 2 }, ts, 1500 + i),
        { alias: 3n, timestamp: BigInt(ts), value: { case: 'booleanValue', value: i % 2 === 0 } },
      ]);
      expected.push(
        reading('plant1/e1', 'Temp', ts, 20 + i / 10),
        reading('plant1/e1/press', 'Motor/Speed', ts, 1500 + i),
        reading('plant1/e1/press', 'Motor/Running', ts, i % 2 === 0 ? 1 : 0),
      );
    }
    // A rule matching `plant1/*/*` / `Motor/*` fires on a device metric whose name holds a `/`.
    const fastTs = base + 21 * 150;
    await n.send('DDATA', 'press', [double({ alias: 2 }, fastTs, 6000)]);
    expected.push(reading('plant1/e1/press', 'Motor/Speed', fastTs, 6000));
    // Garbage on a Sparkplug topic is refused like any other bad payload.
    const raw = await connect(tg.mqttUrl, { clientId: 'garbage' });
    await raw.publishAsync('spBv1.0/plant1/DDATA/e1/press', Buffer.from([0x0a, 0xff, 0xff]), { qos: 1 });
    await raw.endAsync();
    await expectExact('plant1/e1', expected);
    expect(await metricValue(tg.gw, 'messagesRejected', { reason: 'bad_payload' })).toBe(1);
    expect(await metricValue(tg.gw, 'readingsAccepted')).toBe(expected.length);
    expect(n.commands).toEqual([]);
    const fired = await waitFor('the fast alert', async () => {
      const rows = await alertPoints('plant1/e1/press');
      return rows.length > 0 ? rows : undefined;
    });
    expect(fired.map((r) => [r['rule'], r['sensor'], r['state']])).toEqual([['fast', 'Motor/Speed', 'firing']]);
    const health = (await (await fetch(`${tg.httpUrl}/health`)).json()) as { sparkplug: unknown };
    expect(health.sparkplug).toEqual({ online: 1, offline: 0, nodes: [{ group: 'plant1', edge: 'e1', online: true, devices: 1, devicesOnline: 1 }] });
    const metrics = await (await fetch(`${tg.httpUrl}/metrics`)).text();
    expect(metrics).toContain('gateway_sparkplug_metrics_skipped_total{reason="string"} 1');
    expect(metrics).toContain('gateway_sparkplug_edge_nodes{state="online"} 1');
  });

  it('a gateway restart between birth and data: DATA by alias still decodes, no rebirth asked', async () => {
    tg = await start();
    const dir = tg.dir;
    let n = await edge(tg, 'e2');
    const expected: Reading[] = [];
    await n.nbirth([double({ name: 'Temp', alias: 10 }, base, 1)]);
    await n.send('DBIRTH', 'pump', [double({ name: 'Flow/Rate', alias: 11 }, base, 2)]);
    expected.push(reading('plant1/e2', 'Temp', base, 1), reading('plant1/e2/pump', 'Flow/Rate', base, 2));
    await waitFor('the births processed', async () => ((await metricValue(tg!.gw, 'readingsAccepted')) === 2 ? true : undefined));
    const seq = n.seq;
    await n.end(); // a clean disconnect: no will
    nodes.length = 0;
    await tg.stop();
    tg = await start({}, dir);
    n = await edge(tg, 'e2', 0);
    n.seq = seq; // the same session goes on: no new birth
    for (let i = 1; i <= 10; i++) {
      const ts = base + i * 200;
      await n.send('DDATA', 'pump', [double({ alias: 11 }, ts, 2 + i)]);
      await n.send('NDATA', undefined, [double({ alias: 10 }, ts, 1 + i)]);
      expected.push(reading('plant1/e2/pump', 'Flow/Rate', ts, 2 + i), reading('plant1/e2', 'Temp', ts, 1 + i));
    }
    await expectExact('plant1/e2', expected);
    expect(n.commands).toEqual([]);
    expect(await metricValue(tg.gw, 'readingsAccepted')).toBe(20);
  });

  it('a sequence gap is answered by exactly one rebirth request', async () => {
    tg = await start();
    const n = await edge(tg, 'e3');
    const expected: Reading[] = [];
    await n.nbirth([double({ name: 'Temp', alias: 1 }, base, 1)]);
    expected.push(reading('plant1/e3', 'Temp', base, 1));
    await n.send('NDATA', undefined, [double({ alias: 1 }, base + 100, 2)]);
    n.seq += 2; // two messages lost
    await n.send('NDATA', undefined, [double({ alias: 1 }, base + 200, 3)]);
    n.seq += 1; // another gap while the request is pending
    await n.send('NDATA', undefined, [double({ alias: 1 }, base + 300, 4)]);
    expected.push(reading('plant1/e3', 'Temp', base + 100, 2), reading('plant1/e3', 'Temp', base + 200, 3), reading('plant1/e3', 'Temp', base + 300, 4));
    await waitFor('the rebirth request', () => (n.commands.length > 0 ? true : undefined));
    // Data without a birth from a second node also asks, once.
    const stranger = await edge(tg, 'e3b');
    stranger.seq = 7;
    await stranger.send('NDATA', undefined, [double({ alias: 1 }, base, 1)]);
    await stranger.send('NDATA', undefined, [double({ alias: 1 }, base, 1)]);
    await waitFor('the stranger rebirth request', () => (stranger.commands.length > 0 ? true : undefined));
    await expectExact('plant1/e3/', []);
    await expectExact('plant1/e3', expected);
    expect(n.commands).toHaveLength(1);
    expect(n.commands[0]!.topic).toBe('spBv1.0/plant1/NCMD/e3');
    expect(n.commands[0]!.payload.metrics.map((m) => [m.name, m.value])).toEqual([['Node Control/Rebirth', { case: 'booleanValue', value: true }]]);
    expect(stranger.commands).toHaveLength(1);
    const metrics = await (await fetch(`${tg.httpUrl}/metrics`)).text();
    expect(metrics).toContain('gateway_sparkplug_rebirths_requested_total{reason="seq_gap"} 1');
    expect(metrics).toContain('gateway_sparkplug_rebirths_requested_total{reason="no_birth"} 1');
  });

  it('NDEATH by will fires noData at once and takes the node offline; an old-bdSeq NDEATH is ignored', async () => {
    tg = await start();
    const expected: Reading[] = [];
    // e4: its session's will kills it.
    const dying = await edge(tg, 'e4', 5);
    await dying.nbirth([double({ name: 'Temp', alias: 1 }, base, 1)]);
    await dying.send('DBIRTH', 'd', [double({ name: 'Motor/Speed', alias: 2 }, base, 2)]);
    expected.push(reading('plant1/e4', 'Temp', base, 1), reading('plant1/e4/d', 'Motor/Speed', base, 2));
    // e5: a new session (bdSeq 2) must survive the will of its previous one (bdSeq 1).
    const alive = await edge(tg, 'e5', 2);
    await alive.nbirth([double({ name: 'Temp', alias: 1 }, base, 3)]);
    await alive.send('DBIRTH', 'x', [double({ name: 'Level', alias: 2 }, base, 9)]);
    expected.push(reading('plant1/e5', 'Temp', base, 3), reading('plant1/e5/x', 'Level', base, 9));
    await waitFor('births processed', async () => ((await metricValue(tg!.gw, 'readingsAccepted')) === 4 ? true : undefined));
    // DDEATH: one device of a living node goes stale.
    await alive.send('DDEATH', 'x', []);
    const x = await waitFor('noData firing for e5/x', async () => {
      const rows = await alertPoints('plant1/e5/x');
      return rows.length >= 1 ? rows : undefined;
    });
    expect(x.map((r) => [r['rule'], r['sensor'], r['state']])).toEqual([['silent', 'Level', 'firing']]);
    await alive.ndeath(1);
    dying.kill();
    const firing = await waitFor('noData firing for e4', async () => {
      const rows = await alertPoints('plant1/e4');
      return rows.length >= 1 ? rows : undefined;
    });
    expect(firing.map((r) => [r['rule'], r['sensor'], r['state']])).toEqual([['silent', 'Temp', 'firing']]);
    const dev = await waitFor('noData firing for e4/d', async () => {
      const rows = await alertPoints('plant1/e4/d');
      return rows.length >= 1 ? rows : undefined;
    });
    expect(dev.map((r) => [r['rule'], r['sensor'], r['state']])).toEqual([['silent', 'Motor/Speed', 'firing']]);
    await alive.send('NDATA', undefined, [double({ alias: 1 }, base + 500, 4)]);
    expected.push(reading('plant1/e5', 'Temp', base + 500, 4));
    await expectExact(
      'plant1/e4',
      expected.filter((r) => r.device.startsWith('plant1/e4')),
    );
    await expectExact(
      'plant1/e5',
      expected.filter((r) => r.device.startsWith('plant1/e5')),
    );
    expect(await alertPoints('plant1/e5')).toEqual([]);
    expect(alive.commands).toEqual([]);
    // The operator page's live view shows the dead node's sensors offline, the living one's not.
    const live = (await (await fetch(`${tg.httpUrl}/api/live`)).json()) as { sensors: { device: string; sensor: string; offline?: boolean }[] };
    expect(live.sensors.filter((v) => v.offline).map((v) => `${v.device} ${v.sensor}`)).toEqual([
      'plant1/e4 Temp',
      'plant1/e4/d Motor/Speed',
      'plant1/e5/x Level',
    ]);
    const health = (await (await fetch(`${tg.httpUrl}/health`)).json()) as { sparkplug: { nodes: { edge: string; online: boolean }[] } };
    expect(health.sparkplug.nodes.map((x) => [x.edge, x.online]).sort()).toEqual([
      ['e4', false],
      ['e5', true],
    ]);
    const metrics = await (await fetch(`${tg.httpUrl}/metrics`)).text();
    expect(metrics).toContain('gateway_sparkplug_events_total{event="death_ignored"} 1');
    expect(metrics).toContain('gateway_sparkplug_events_total{event="node_death"} 1');
    expect(metrics).toContain('gateway_sparkplug_events_total{event="device_death"} 1');
  });

  it('NDEATH by will with aedes in the gateway thread (mqtt.brokerThread off) fires noData at once too', async () => {
    tg = await start({ mqtt: { brokerThread: 'off' } });
    const n = await edge(tg, 'e8', 9);
    await n.nbirth([double({ name: 'Temp', alias: 1 }, base, 1)]);
    await waitFor('birth processed', async () => ((await metricValue(tg!.gw, 'readingsAccepted')) === 1 ? true : undefined));
    n.kill();
    const rows = await waitFor('noData firing for e8', async () => {
      const r = await alertPoints('plant1/e8');
      return r.length >= 1 ? r : undefined;
    });
    expect(rows.map((r) => [r['rule'], r['sensor'], r['state']])).toEqual([['silent', 'Temp', 'firing']]);
    await expectExact('plant1/e8', [reading('plant1/e8', 'Temp', base, 1)]);
  });

  it('historical metrics correct an emitted window without touching alert state', async () => {
    tg = await start();
    const n = await edge(tg, 'e6');
    const expected: Reading[] = [];
    await n.nbirth([]);
    await n.send('DBIRTH', 'm', [double({ name: 'Motor/Speed', alias: 1 }, base, 100)]);
    expected.push(reading('plant1/e6/m', 'Motor/Speed', base, 100));
    for (let i = 1; i <= 10; i++) {
      await n.send('DDATA', 'm', [double({ alias: 1 }, base + i * 300, 100 + i)]);
      expected.push(reading('plant1/e6/m', 'Motor/Speed', base + i * 300, 100 + i));
    }
    await expectExact('plant1/e6', expected);
    // Buffered history replayed (an edge node that waited for its primary host): one reading into the first,
    // emitted window, which is corrected; one newer than any live reading and above the `fast` threshold, which
    // would fire it were it live.
    await n.send('DDATA', 'm', [double({ alias: 1 }, base + 500, 50, { isHistorical: true }), double({ alias: 1 }, base + 3500, 9000, { isHistorical: true })]);
    expected.push(reading('plant1/e6/m', 'Motor/Speed', base + 500, 50), reading('plant1/e6/m', 'Motor/Speed', base + 3500, 9000));
    // Transient and null metrics are not stored.
    await n.send('DDATA', 'm', [double({ alias: 1 }, base + 600, 7, { isTransient: true }), double({ alias: 1 }, base + 700, 8, { isNull: true })]);
    await expectExact('plant1/e6', expected);
    expect(await metricValue(tg.gw, 'windowsCorrected')).toBeGreaterThanOrEqual(1);
    expect(await alertPoints('plant1/e6/m')).toEqual([]);
    expect(tg.gw.alerts.firing()).toEqual([]);
  });

  it('refuses a payload that does not decode, on any Sparkplug message type', async () => {
    tg = await start();
    const raw = await connect(tg.mqttUrl, { clientId: 'raw' });
    await raw.publishAsync('spBv1.0/plant1/NBIRTH/e7', Buffer.from('not protobuf \xff'), { qos: 1 });
    await raw.publishAsync('spBv1.0/plant1/NDATA/e7', Buffer.from(encodePayload({ seq: 300, metrics: [] })), { qos: 1 });
    await raw.endAsync();
    await waitFor('both rejected', async () => ((await metricValue(tg!.gw, 'messagesRejected', { reason: 'bad_payload' })) === 2 ? true : undefined));
  });
});

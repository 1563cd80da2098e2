import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect } from '../support/mqtt.js';
import { alertPoints, alertSubscriber, baseTs, sendReading, type AlertSubscriber } from './alerts-helpers.js';

/**
 * Threshold alerts end to end: real aedes, real MQTT.js clients, real InfluxDB. Events go out as retained
 * QoS 1 MQTT messages on alerts/{device}/{sensor}/{rule}, as points of the `alerts` measurement through the
 * outbox, and as gateway_alerts_fired_total. The engine's state machine in detail is unit-tested; here one
 * scenario per behaviour proves the wiring.
 */
const RULES = `rules:
  - name: hot
    match: { device: "gh-*", sensor: temperature }
    above: 30
    hysteresis: 2
    for: 1s
    severity: critical
  - name: frost
    match: { device: "gh-*", sensor: temperature }
    below: 0
  - name: silent
    match: { device: "gh-*", sensor: heartbeat }
    noData: 1s
`;

describe('alerts: MQTT events, InfluxDB points, metrics', () => {
  let influx: InfluxServer;
  let tg: TestGateway;
  const clients: MqttClient[] = [];
  let early: AlertSubscriber;
  let device: MqttClient;

  beforeAll(async () => {
    influx = await startInfluxd();
    tg = await startTestGateway({ influxUrl: influx.url, rules: RULES });
    early = await alertSubscriber(tg.mqttUrl, 'watcher-early');
    device = await connect(tg.mqttUrl, { clientId: 'gh-1' });
    clients.push(early.client, device);
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync();
    await tg?.dispose();
    await influx?.dispose();
  });

  it('fires after `for` of reading time, holds through hysteresis, ignores late readings, resolves; retained for late subscribers', async () => {
    const base = baseTs(20_000);
    const topic = 'alerts/gh-1/temperature/hot';
    const send = (dt: number, v: number) => sendReading(device, 'gh-1', 'temperature', base + dt, v);
    let sent = 0;
    const step = async (dt: number, v: number) => {
      await send(dt, v);
      sent++;
    };

    await step(0, 20);
    await step(200, 31); // pending since +200
    await step(400, 25); // cancels the pending alert silently
    await step(600, 31); // pending again, since +600
    await step(1100, 33); // 500 ms of violation: not yet
    await step(1600, 34); // 1 s of violation: fires

    const fired = await early.next('hot firing', (r) => r.topic === topic);
    expect(fired.msg).toEqual({
      device: 'gh-1',
      sensor: 'temperature',
      rule: 'hot',
      state: 'firing',
      severity: 'critical',
      value: 34,
      threshold: 30,
      ts: base + 1600,
      since: base + 600,
    });
    expect(fired.qos).toBe(1);

    // A subscriber that connects after the alert fired receives the current state, retained.
    const late = await alertSubscriber(tg.mqttUrl, 'watcher-late');
    clients.push(late.client);
    const retained = await late.next('retained hot firing', (r) => r.topic === topic);
    expect(retained).toEqual({ topic, msg: fired.msg, retain: true, qos: 1 });

    await step(1500, 10); // late (older than +1600): would resolve, must not
    await step(1800, 29); // inside the hysteresis band (> 30 - 2): still firing
    await step(2000, 28); // at 30 - 2: resolves

    const resolved = await early.next('hot resolved', (r) => r.topic === topic);
    expect(resolved.msg).toEqual({
      device: 'gh-1',
      sensor: 'temperature',
      rule: 'hot',
      state: 'resolved',
      severity: 'critical',
      value: 28,
      threshold: 30,
      ts: base + 2000,
      since: base + 2000,
    });

    // A late violating reading does not fire either: the first frost event is the in-order one's.
    await step(1900, -5);
    await step(2200, -1);
    const frost = await early.next('frost firing', (r) => r.topic === 'alerts/gh-1/temperature/frost');
    expect(frost.msg).toMatchObject({ state: 'firing', severity: 'warning', value: -1, threshold: 0, ts: base + 2200, since: base + 2200 });

    // The late readings were accepted by the pipeline (they are in windows), they just change no alert.
    expect(await metricValue(tg.gw, 'readingsAccepted')).toBe(sent);
    expect(await metricValue(tg.gw, 'readingsLate')).toBe(0);
    expect(early.where((r) => r.topic === topic).map((r) => r.msg.state)).toEqual(['firing', 'resolved']);

    // The retained message is always the current state.
    const later = await alertSubscriber(tg.mqttUrl, 'watcher-later');
    clients.push(later.client);
    expect((await later.next('retained hot', (r) => r.topic === topic)).msg).toEqual(resolved.msg);
    // Retained messages come in no particular order (by topic from the disk store): look for frost anywhere.
    expect((await waitFor('retained frost', () => later.where((r) => r.topic === 'alerts/gh-1/temperature/frost')[0])).retain).toBe(true);

    // The same changes are points of the `alerts` measurement, written through the outbox.
    const points = await waitFor('3 alert points in InfluxDB', async () => {
      const p = await alertPoints(influx);
      return p.length >= 3 ? p : undefined;
    });
    const common = { device: 'gh-1', sensor: 'temperature', gateway: 'test-gw' };
    expect(points).toEqual([
      { ...common, time: base + 1600, rule: 'hot', severity: 'critical', state: 'firing', value: 34, threshold: 30 },
      { ...common, time: base + 2000, rule: 'hot', severity: 'critical', state: 'resolved', value: 28, threshold: 30 },
      { ...common, time: base + 2200, rule: 'frost', severity: 'warning', state: 'firing', value: -1, threshold: 0 },
    ]);
    // Tags are tags (GROUP BY works on them), not fields.
    const tagKeys = await influx.query('SHOW TAG KEYS FROM "alerts"', 'iot');
    expect(tagKeys[0]!.series![0]!.values.map((v) => v[0])).toEqual(['device', 'gateway', 'rule', 'sensor', 'severity']);

    const metrics = await (await fetch(`${tg.httpUrl}/metrics`)).text();
    expect(metrics).toContain('gateway_alerts_fired_total{rule="hot",severity="critical"} 1');
    expect(metrics).toContain('gateway_alerts_fired_total{rule="frost",severity="warning"} 1');

    const firing = (await (await fetch(`${tg.httpUrl}/api/alerts`)).json()) as { firing: Record<string, unknown>[] };
    expect(firing.firing).toEqual([
      {
        rule: 'frost',
        kind: 'threshold',
        device: 'gh-1',
        sensor: 'temperature',
        severity: 'warning',
        since: base + 2200,
        firedAt: base + 2200,
        value: -1,
        threshold: 0,
      },
    ]);
    const health = (await (await fetch(`${tg.httpUrl}/health`)).json()) as { alerts: { firing: number; rules: { ruleCount: number; errors: unknown[] } } };
    expect(health.alerts).toMatchObject({ firing: 1, rules: { ruleCount: 3, errors: [] } });
  });

  it('fires noData on gateway time with the last value, and resolves on the next reading', async () => {
    const hb = await connect(tg.mqttUrl, { clientId: 'gh-2' });
    clients.push(hb);
    const topic = 'alerts/gh-2/heartbeat/silent';
    const t0 = Date.now();
    await sendReading(hb, 'gh-2', 'heartbeat', t0, 7);
    const sentAt = Date.now();

    const fired = await early.next('silent firing', (r) => r.topic === topic);
    expect(fired.msg).toMatchObject({ device: 'gh-2', sensor: 'heartbeat', rule: 'silent', state: 'firing', severity: 'warning', value: 7, threshold: null });
    // ts: the gateway time it fired; since: the gateway time of the last reading, at least noData earlier.
    expect(fired.msg.ts - fired.msg.since).toBeGreaterThanOrEqual(1000);
    expect(fired.msg.since).toBeGreaterThanOrEqual(t0);
    expect(fired.msg.since).toBeLessThanOrEqual(sentAt);
    expect(fired.msg.ts).toBeLessThanOrEqual(Date.now());

    const t1 = Date.now();
    await sendReading(hb, 'gh-2', 'heartbeat', t1, 8);
    const resolved = await early.next('silent resolved', (r) => r.topic === topic);
    expect(resolved.msg).toEqual({
      device: 'gh-2',
      sensor: 'heartbeat',
      rule: 'silent',
      state: 'resolved',
      severity: 'warning',
      value: 8,
      threshold: null,
      ts: t1,
      since: t1,
    });

    const points = await waitFor('noData points', async () => {
      const p = (await alertPoints(influx)).filter((x) => x.rule === 'silent');
      return p.length >= 2 ? p : undefined;
    });
    expect(points.map(({ time, state, value, threshold }) => ({ time, state, value, threshold }))).toEqual([
      { time: fired.msg.ts, state: 'firing', value: 7, threshold: null },
      { time: t1, state: 'resolved', value: 8, threshold: null },
    ]);
    expect(await metricValue(tg.gw, 'alertsFired', { rule: 'silent', severity: 'warning' })).toBe(1);
  });

  it('keeps alerting while InfluxDB is down; the alert points arrive once it is back', async () => {
    await influx.stop();
    const base = baseTs(5_000);
    const dev = await connect(tg.mqttUrl, { clientId: 'gh-3' });
    clients.push(dev);
    await sendReading(dev, 'gh-3', 'temperature', base, -3);
    const fired = await early.next('frost on gh-3 while InfluxDB is down', (r) => r.topic === 'alerts/gh-3/temperature/frost');
    expect(fired.msg).toMatchObject({ state: 'firing', value: -3, ts: base });
    await sendReading(dev, 'gh-3', 'temperature', base + 100, 5);
    const resolved = await early.next('frost resolved on gh-3', (r) => r.topic === 'alerts/gh-3/temperature/frost');
    expect(resolved.msg).toMatchObject({ state: 'resolved', value: 5, ts: base + 100 });
    // The points wait in the outbox (SQLite) meanwhile: committed within influx.flushInterval, not sent.
    await waitFor('alert points committed to the outbox', () => (tg.gw.outbox.status().points > 0 ? true : undefined));

    await influx.start();
    const points = await waitFor('gh-3 alert points after InfluxDB is back', async () => {
      const p = (await alertPoints(influx)).filter((x) => x.device === 'gh-3');
      return p.length >= 2 ? p : undefined;
    });
    expect(points.map(({ time, rule, state, value }) => ({ time, rule, state, value }))).toEqual([
      { time: base, rule: 'frost', state: 'firing', value: -3 },
      { time: base + 100, rule: 'frost', state: 'resolved', value: 5 },
    ]);
  });
});

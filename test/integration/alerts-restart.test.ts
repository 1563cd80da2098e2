import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect } from '../support/mqtt.js';
import { alertPoints, alertSubscriber, baseTs, replaceFile, sendReading } from './alerts-helpers.js';

/**
 * Alert state across a graceful restart (gw.stop(), then a new gateway on the same folder): a firing alert
 * does not fire again, a pending one keeps its start, and both resolve normally afterwards.
 */
const RULES = `rules:
  - name: hot
    match: { device: "r-*", sensor: temperature }
    above: 30
    severity: critical
  - name: warm
    match: { device: "r-*", sensor: temperature }
    above: 25
    for: 1s
`;

describe('alerts: state survives a graceful restart', () => {
  let influx: InfluxServer;
  let first: TestGateway | undefined;
  let second: TestGateway | undefined;
  let third: TestGateway | undefined;
  let fourth: TestGateway | undefined;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    influx = await startInfluxd();
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync();
    await first?.stop();
    await second?.stop();
    await third?.stop();
    await fourth?.stop();
    for (const tg of [first, third]) if (tg) rmSync(tg.dir, { recursive: true, force: true });
    await influx?.dispose();
  });

  it('does not fire a firing alert again, keeps a pending one, and resolves both later', async () => {
    const base = baseTs(20_000);
    const hot = 'alerts/r-1/temperature/hot';
    const warm = 'alerts/r-1/temperature/warm';

    first = await startTestGateway({ influxUrl: influx.url, rules: RULES });
    const sub1 = await alertSubscriber(first.mqttUrl, 'watcher-1');
    const dev1 = await connect(first.mqttUrl, { clientId: 'r-1' });
    clients.push(sub1.client, dev1);
    await sendReading(dev1, 'r-1', 'temperature', base, 35); // hot fires; warm pending since base
    const fired = await sub1.next('hot firing', (r) => r.topic === hot);
    expect(fired.msg).toMatchObject({ state: 'firing', value: 35, ts: base, since: base });
    await waitFor('the firing point written', async () => ((await alertPoints(influx)).length >= 1 ? true : undefined));
    await dev1.endAsync();
    await sub1.client.endAsync();
    await first.stop();

    second = await startTestGateway({ influxUrl: influx.url, dir: first.dir });
    // The new broker holds the current state as a retained message again, but it is not a new event.
    const sub2 = await alertSubscriber(second.mqttUrl, 'watcher-2');
    const dev2 = await connect(second.mqttUrl, { clientId: 'r-1' });
    clients.push(sub2.client, dev2);
    const retained = await sub2.next('retained hot after the restart', (r) => r.topic === hot);
    expect(retained.retain).toBe(true);
    expect(retained.msg).toEqual(fired.msg);
    expect((await (await fetch(`${second.httpUrl}/api/alerts`)).json()) as unknown).toMatchObject({
      firing: [{ rule: 'hot', device: 'r-1', sensor: 'temperature', since: base, firedAt: base }],
    });

    await sendReading(dev2, 'r-1', 'temperature', base - 100, 10); // older than the newest reading before the stop: late
    await sendReading(dev2, 'r-1', 'temperature', base + 500, 36); // hot still firing: no event
    await sendReading(dev2, 'r-1', 'temperature', base + 1000, 31); // warm: 1 s of violation since base -> fires
    const warmFired = await sub2.next('warm firing', (r) => r.topic === warm);
    expect(warmFired.msg).toMatchObject({ state: 'firing', value: 31, ts: base + 1000, since: base });
    await sendReading(dev2, 'r-1', 'temperature', base + 1500, 20);
    const hotResolved = await sub2.next('hot resolved', (r) => r.topic === hot);
    expect(hotResolved.msg).toMatchObject({ state: 'resolved', value: 20, threshold: 30, ts: base + 1500 });
    await sub2.next('warm resolved', (r) => r.topic === warm && r.msg.state === 'resolved');

    // No second firing event: not on MQTT, not in InfluxDB, not in the counter.
    expect(sub2.where((r) => r.topic === hot && !r.retain).map((r) => r.msg.state)).toEqual(['resolved']);
    expect(await metricValue(second.gw, 'alertsFired', { rule: 'hot' })).toBe(0);
    expect(await metricValue(second.gw, 'alertsFired', { rule: 'warm' })).toBe(1);
    const points = await waitFor('4 alert points', async () => {
      const p = await alertPoints(influx);
      return p.length >= 4 ? p : undefined;
    });
    expect(points.map(({ time, rule, state }) => ({ time, rule, state }))).toEqual([
      { time: base, rule: 'hot', state: 'firing' },
      { time: base + 1000, rule: 'warm', state: 'firing' },
      { time: base + 1500, rule: 'hot', state: 'resolved' },
      { time: base + 1500, rule: 'warm', state: 'resolved' },
    ]);
  });

  it('resolves a firing alert whose rule was removed while the gateway was down', async () => {
    const base = baseTs(10_000);
    third = await startTestGateway({ influxUrl: influx.url, rules: 'rules:\n  - { name: doomed, match: { device: d-1 }, above: 1 }\n' });
    const dev = await connect(third.mqttUrl, { clientId: 'd-1' });
    clients.push(dev);
    await sendReading(dev, 'd-1', 'level', base, 5);
    await sendReading(dev, 'd-1', 'level', base + 100, 6);
    await waitFor('doomed firing', () => (third!.gw.alerts.firing()[0]?.value === 6 ? true : undefined));
    await dev.endAsync();
    await third.stop();

    replaceFile(third.config.alerts.rulesFile, 'rules: []\n');
    const before = Date.now();
    fourth = await startTestGateway({ influxUrl: influx.url, dir: third.dir });
    const sub = await alertSubscriber(fourth.mqttUrl, 'watcher-4');
    clients.push(sub.client);
    const resolved = await sub.next('doomed resolved', (r) => r.topic === 'alerts/d-1/level/doomed');
    // As a rule change on hot reload: gateway time, the sensor's last value.
    expect(resolved.msg).toMatchObject({ state: 'resolved', rule: 'doomed', value: 6, threshold: 1 });
    expect(resolved.msg.ts).toBeGreaterThanOrEqual(before);
    expect((await (await fetch(`${fourth.httpUrl}/api/alerts`)).json()) as unknown).toEqual({ firing: [] });
    const points = await waitFor('the resolved point', async () => {
      const p = (await alertPoints(influx)).filter((x) => x.rule === 'doomed');
      return p.length >= 2 ? p : undefined;
    });
    expect(points.map(({ time, state }) => ({ time, state }))).toEqual([
      { time: base, state: 'firing' },
      { time: resolved.msg.ts, state: 'resolved' },
    ]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { Reading } from '../../gateway/pipeline/types.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect, publish } from '../support/mqtt.js';
import { storedWindows } from '../support/telemetry.js';
import { referenceWindows, shuffle } from '../support/reference.js';
import { expectWindowsEqual } from '../support/exact-windows.js';

/**
 * The gateway core end to end: real aedes, real MQTT clients, real InfluxDB. Several devices publish both topic
 * forms with duplicates, reordering, a backlog array, garbage and late readings; every window InfluxDB holds
 * must equal a reference computed here from the readings that should have been accepted.
 */
// Both places aedes can run (mqtt.brokerThread): its own thread, and the gateway's thread.
describe.each(['on', 'off'] as const)('gateway core: MQTT in, exact windows out (brokerThread %s)', (brokerThread) => {
  let influx: InfluxServer;
  let tg: TestGateway;
  let clients: MqttClient[] = [];

  beforeAll(async () => {
    influx = await startInfluxd();
    tg = await startTestGateway({ influxUrl: influx.url, overrides: { mqtt: { brokerThread } } });
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync();
    await tg?.dispose();
    await influx?.dispose();
  });

  it('writes exactly the reference windows to InfluxDB', async () => {
    const base = Math.floor((Date.now() - 120_000) / 1000) * 1000;
    const expected: Reading[] = [];
    let rnd = 42;
    const random = () => (rnd = (rnd * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const value = () => Math.round(random() * 1e6) / 1e3 - 200; // three decimals: sums that floating point gets wrong naively

    // gh-1: telemetry with ts and seq, both sensors, all 80 messages shuffled, 10% sent twice.
    const gh1 = await connect(tg.mqttUrl, { clientId: 'gh-1' });
    const gh2 = await connect(tg.mqttUrl, { clientId: 'gh-2' });
    clients = [gh1, gh2];
    const messages: string[] = [];
    for (let i = 0; i < 80; i++) {
      const ts = base + i * 250;
      const readings = { temperature: value(), humidity: value() };
      expected.push(
        { device: 'gh-1', sensor: 'temperature', ts, value: readings.temperature },
        { device: 'gh-1', sensor: 'humidity', ts, value: readings.humidity },
      );
      messages.push(JSON.stringify({ ts, seq: i, readings }));
    }
    const withRepeats = shuffle([...messages, ...messages.filter((_, i) => i % 10 === 3)], 7);
    for (const m of withRepeats) await publish(gh1, 'devices/gh-1/telemetry', m);

    // gh-1 then flushes a backlog array (RFC 3339 timestamps), one element repeated from the live stream.
    const backlog = [];
    for (let i = 80; i < 90; i++) {
      const ts = base + i * 250;
      const v = value();
      expected.push({ device: 'gh-1', sensor: 'temperature', ts, value: v });
      backlog.push({ ts: new Date(ts).toISOString(), readings: { temperature: v } });
    }
    backlog.push(JSON.parse(messages[5]!));
    await publish(gh1, 'devices/gh-1/telemetry', JSON.stringify(backlog));

    // gh-2: the per-sensor topic form, shuffled, with repeats.
    const sensorMsgs: string[] = [];
    for (let i = 0; i < 40; i++) {
      const ts = base + i * 500 + 3;
      const v = value();
      expected.push({ device: 'gh-2', sensor: 'pressure', ts, value: v });
      sensorMsgs.push(JSON.stringify({ ts, value: v }));
    }
    for (const m of shuffle([...sensorMsgs, sensorMsgs[0]!, sensorMsgs[39]!], 11)) await publish(gh2, 'devices/gh-2/sensors/pressure', m);

    // Garbage from gh-2 costs nothing to anyone.
    await publish(gh2, 'devices/gh-2/telemetry', '{"readings": {"x": ');
    await publish(gh2, 'devices/gh-2/telemetry', JSON.stringify({ ts: base, readings: { pressure: 'high' } }));
    await publish(gh2, 'devices/gh-2/sensors/pressure', JSON.stringify({ ts: base - 5 * 365 * 86_400_000 * 10, value: 1 }));

    // Wait until every window of this phase was emitted (idle close) and written.
    const windowsOf = (rs: Reading[]) => referenceWindows(rs, 1000).size;
    await waitFor('first windows in InfluxDB', async () => ((await storedWindows(influx, 'test-gw')).size >= windowsOf(expected) ? true : undefined));

    // Late data: a reading for an emitted window within the correction horizon re-emits it...
    const late = { device: 'gh-1', sensor: 'temperature', ts: base + 1_100, value: 999.5 };
    expected.push(late);
    await publish(gh1, 'devices/gh-1/telemetry', JSON.stringify({ ts: late.ts, readings: { temperature: late.value } }));
    // ...and one older than the horizons is dropped and counted.
    await publish(gh1, 'devices/gh-1/telemetry', JSON.stringify({ ts: base - 70_000, readings: { temperature: -1 } }));

    const reference = referenceWindows(expected, 1000);
    const stored = await waitFor('the corrected window in InfluxDB', async () => {
      const s = await storedWindows(influx, 'test-gw');
      const corrected = s.get(`gh-1|temperature|${base + 1000}`);
      return corrected && corrected.max === 999.5 && (await tg.gw.outbox.status()).points === 0 ? s : undefined;
    });

    expect(stored.size).toBe(reference.size);
    expectWindowsEqual(stored, reference);

    const gw = tg.gw;
    expect(await metricValue(gw, 'readingsAccepted')).toBe(expected.length);
    expect(await metricValue(gw, 'readingsDuplicate')).toBe(2 * 8 + 1 * 2 + 2); // 8 repeated gh-1 messages x 2 sensors, the backlog repeat (2), gh-2 repeats
    expect(await metricValue(gw, 'readingsLate')).toBe(1);
    expect(await metricValue(gw, 'messagesRejected', { reason: 'invalid_json' })).toBe(1);
    expect(await metricValue(gw, 'messagesRejected', { reason: 'bad_value' })).toBe(1);
    expect(await metricValue(gw, 'messagesRejected', { reason: 'bad_timestamp' })).toBe(1);
    expect(await metricValue(gw, 'windowsCorrected')).toBeGreaterThanOrEqual(1);
    expect(await metricValue(gw, 'pointsWritten')).toBeGreaterThanOrEqual(reference.size);
  });

  it('serves /health and /metrics', async () => {
    const health = (await (await fetch(`${tg.httpUrl}/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', gatewayId: 'test-gw', broker: { listening: true }, influx: { up: true } });
    const metrics = await (await fetch(`${tg.httpUrl}/metrics`)).text();
    for (const name of [
      'gateway_messages_received_total',
      'gateway_messages_rejected_total{reason="invalid_json"} 1',
      'gateway_readings_accepted_total',
      'gateway_readings_duplicate_total',
      'gateway_readings_late_total 1',
      'gateway_windows_emitted_total',
      'gateway_points_written_total',
      'gateway_influx_up 1',
    ]) {
      expect(metrics).toContain(name);
    }
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { startFakeInflux, tagKeys, type FakeApi, type FakeInflux } from '../support/fake-influx.js';
import { connect, publish } from '../support/mqtt.js';

/**
 * The whole gateway writing with influx.api v2 and v3 to the documented-protocol fake (test/support/fake-influx.ts),
 * whose v3 mode refuses what InfluxDB 3 refuses: a new tag on an existing table, a tag and a field of one name, a
 * field type change. `telemetry`, `alerts` and `gateway_stats` must get through without one refusal; and the token
 * must never show in the log, /health or /metrics.
 */
const TOKEN = 'gw-token-4f1c2b9e7d';
const RULES = `rules:
  - name: hot
    match: { device: "gh-*", sensor: temperature }
    above: 30
    severity: critical
`;

let fake: FakeInflux | undefined;
let tg: TestGateway | undefined;
let device: MqttClient | undefined;

afterEach(async () => {
  await device?.endAsync();
  device = undefined;
  await tg?.dispose();
  tg = undefined;
  await fake?.stop();
  fake = undefined;
});

const measurement = (line: string) => line.slice(0, line.search(/[, ]/));

describe.each(['v2', 'v3'] as const)('gateway with influx.api %s', (api: FakeApi) => {
  it('telemetry, alerts and gateway_stats (with a rejection reason) are all stored, none refused', async () => {
    fake = await startFakeInflux({ api, token: TOKEN, org: 'acme', buckets: ['iot'] });
    // gateway "site-2": its {gateway} line sorts before every reason line within a stored batch (lanes.ts buckets),
    // so only the reporter committing the reason baselines as a batch of their own gets `reason` into the first line.
    tg = await startTestGateway({
      influxUrl: fake.url,
      rules: RULES,
      overrides: {
        gatewayId: 'site-2',
        mqtt: { brokerThread: 'off' },
        influx: { url: fake.url, api, org: 'acme', token: TOKEN, flushInterval: '100ms', timeout: '2s' },
      },
    });
    device = await connect(tg.mqttUrl, { clientId: 'gh-1' });
    const t0 = Date.now() - 5000;
    await publish(device, 'devices/gh-1/sensors/temperature', JSON.stringify({ ts: t0, value: 21 }));
    await publish(device, 'devices/gh-1/sensors/humidity', JSON.stringify({ ts: t0, value: 60 }));
    await publish(device, 'devices/gh-1/sensors/temperature', JSON.stringify({ ts: t0 + 10, value: 35 })); // fires "hot"
    await publish(device, 'devices/gh-1/telemetry', '{not json'); // a rejection: gateway_stats gets a reason line

    const f = fake;
    await waitFor('telemetry, alerts and a gateway_stats reason line stored', () => {
      const ms = new Set(f.stored.map(measurement));
      const reasonLine = f.stored.some((l) => l.startsWith('gateway_stats,') && l.includes('reason=invalid_json') && / rejected=1i /.test(l));
      return ms.has('telemetry') && ms.has('alerts') && reasonLine ? true : undefined;
    });
    expect(f.writes.filter((w) => w.status !== 204)).toEqual([]);
    const health = (await (await fetch(`${tg.httpUrl}/health`)).json()) as { status: string; outbox: { deadLetters: number } };
    expect(health).toMatchObject({ status: 'ok', outbox: { deadLetters: 0 } });
    // Every line of a measurement carries the tags its first line declared (what InfluxDB 3 needs).
    for (const m of ['telemetry', 'alerts', 'gateway_stats']) {
      const lines = f.stored.filter((l) => measurement(l) === m);
      const declared = new Set(tagKeys(lines[0]!));
      for (const l of lines) for (const k of tagKeys(l)) expect(declared.has(k), `${m}: ${l}`).toBe(true);
    }
  });

  it('a wrong token: kept and retried, /health says why, and the token is nowhere in log, /health or /metrics', async () => {
    fake = await startFakeInflux({ api, token: 'the-right-token-000', org: 'acme', buckets: ['iot'] });
    tg = await startTestGateway({
      influxUrl: fake.url,
      overrides: { mqtt: { brokerThread: 'off' }, influx: { url: fake.url, api, org: 'acme', token: TOKEN, flushInterval: '100ms', timeout: '2s' } },
    });
    device = await connect(tg.mqttUrl, { clientId: 'gh-1' });
    await publish(device, 'devices/gh-1/sensors/temperature', JSON.stringify({ ts: Date.now() - 5000, value: 21 }));
    const url = tg.httpUrl;
    const health = await waitFor('health to report the refused credentials', async () => {
      const h = (await (await fetch(`${url}/health`)).json()) as { status: string; influx: { lastError: string | null } };
      return h.influx.lastError?.includes('401') ? h : undefined;
    });
    expect(health.status).toBe('degraded');
    expect(health.influx.lastError).toMatch(/refused the credentials \(401\)/);
    expect(fake.writes.length).toBeGreaterThan(0);
    expect(fake.writes.every((w) => w.authorization === `${api === 'v2' ? 'Token' : 'Bearer'} ${TOKEN}`)).toBe(true);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const everything = [JSON.stringify(health), metrics, JSON.stringify(tg.logLines())].join('\n');
    expect(everything).not.toContain(TOKEN);
    expect(tg.logLines().some((l) => String(l.err ?? '').includes('401'))).toBe(true);
  });
});

describe('gateway with influx.api v2 and no bucket', () => {
  it('kept (the gateway creates no bucket), /health and the log name the bucket', async () => {
    const api = 'v2';
    fake = await startFakeInflux({ api, token: TOKEN, org: 'acme', buckets: [] });
    tg = await startTestGateway({
      influxUrl: fake.url,
      overrides: { mqtt: { brokerThread: 'off' }, influx: { url: fake.url, api, org: 'acme', token: TOKEN, flushInterval: '100ms', timeout: '2s' } },
    });
    const url = tg.httpUrl;
    const health = await waitFor('health to name the missing bucket', async () => {
      const h = (await (await fetch(`${url}/health`)).json()) as { status: string; influx: { lastError: string | null } };
      return h.influx.lastError?.includes('404') ? h : undefined;
    });
    expect(health).toMatchObject({ status: 'degraded', influx: { lastError: 'InfluxDB answered 404 for bucket "iot" (org "acme"): bucket "iot" not found' } });
    expect(tg.logLines().some((l) => l.msg === 'InfluxDB write failed, will retry' && String(l.err).includes('bucket "iot" not found'))).toBe(true);
    expect(fake.writes.every((w) => w.status === 404)).toBe(true);
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { AdminPlugin } from '../../gateway/admin/server.js';
import { rulesETag } from '../../gateway/alerts/rules-file.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { connect } from '../support/mqtt.js';
import { alertSubscriber, baseTs, sendReading, type AlertSubscriber } from './alerts-helpers.js';

/**
 * The thresholds admin API over real HTTP, against a real gateway: GET /api/thresholds (rules, load status,
 * ETag), PUT /api/thresholds (YAML or JSON; 400 with every error, 412 on a stale If-Match, atomic write, then
 * applied), GET /api/alerts.
 */
const INITIAL = `# greenhouse rules
rules:
  - name: hot
    match: { device: "a-*", sensor: temperature }
    above: 30
    for: 1s
`;

interface ThresholdsBody {
  rules: Record<string, unknown>[];
  status: { source: string; ruleCount: number; errors: unknown[]; loadedAt: number | null; etag: string | null };
  etag: string | null;
}

describe('alerts: thresholds admin API', () => {
  let influx: InfluxServer;
  let tg: TestGateway;
  let sub: AlertSubscriber;
  let dev: MqttClient;
  let url: string;

  beforeAll(async () => {
    influx = await startInfluxd();
    // Another admin plugin with a JSON route: the thresholds API's raw-body parsers must not leak into it.
    const echo: AdminPlugin = (app) => {
      app.post('/test/echo', async (req) => ({ type: typeof req.body, body: req.body }));
    };
    tg = await startTestGateway({ influxUrl: influx.url, rules: INITIAL, deps: { adminPlugins: [echo] } });
    url = `${tg.httpUrl}/api/thresholds`;
    sub = await alertSubscriber(tg.mqttUrl, 'watcher');
    dev = await connect(tg.mqttUrl, { clientId: 'a-1' });
  });

  afterAll(async () => {
    await sub?.client.endAsync();
    await dev?.endAsync();
    await tg?.dispose();
    await influx?.dispose();
  });

  const get = async () => {
    const res = await fetch(url);
    return { status: res.status, etag: res.headers.get('etag'), body: (await res.json()) as ThresholdsBody };
  };
  const put = async (body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(url, { method: 'PUT', body, headers: { 'content-type': 'application/yaml', ...headers } });
    return { status: res.status, etag: res.headers.get('etag'), body: (await res.json()) as Record<string, unknown> };
  };
  const fileText = () => readFileSync(tg.config.alerts.rulesFile, 'utf8');

  it('GET /api/thresholds: the running rules, the load status and the ETag of the file', async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.etag).toBe(rulesETag(INITIAL));
    expect(res.body.etag).toBe(res.etag);
    expect(res.body.rules).toEqual([
      {
        kind: 'threshold',
        name: 'hot',
        match: { device: 'a-*', sensor: 'temperature' },
        severity: 'warning',
        above: 30,
        below: null,
        hysteresis: 0,
        forMs: 1000,
      },
    ]);
    expect(res.body.status).toMatchObject({ source: tg.config.alerts.rulesFile, ruleCount: 1, errors: [], etag: res.etag, loadedAt: expect.any(Number) });

    const raw = await fetch(`${url}?format=yaml`);
    expect(raw.headers.get('content-type')).toMatch(/^application\/yaml/);
    expect(raw.headers.get('etag')).toBe(res.etag);
    expect(await raw.text()).toBe(INITIAL);
  });

  it('PUT refuses an invalid body with every error and its path, and changes nothing', async () => {
    const bad = 'rules:\n  - name: x\n    above: hot\n  - name: y\n    bogus: 1\n    below: 1\n  - name: x\n    noData: 1s\n';
    const res = await put(bad);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      errors: [
        { path: 'rules[0].above', line: 3, column: 12, message: expect.any(String) },
        { path: 'rules[1].bogus', line: 5, column: 5, message: 'unknown key' },
        { path: 'rules[2].name', line: 7, column: 11, message: 'duplicate rule name "x" (first used by rules[0])' },
      ],
    });

    const json = await put('{"rules": [{"name": "j", "above": "high"}, {"name": "k"}]}', { 'content-type': 'application/json' });
    expect(json.status).toBe(400);
    expect((json.body['errors'] as { path: string }[]).map((e) => e.path)).toEqual(['rules[0].above', 'rules[1]']);

    const notJson = await put('{"rules": [,]}', { 'content-type': 'application/json' });
    expect(notJson.status).toBe(400);
    // Node 20.20's JSON.parse names the bad token but no longer its position, so JSON syntax errors carry none.
    expect(notJson.body['errors']).toEqual([expect.objectContaining({ path: '(file)', message: expect.stringContaining('is not valid JSON') })]);

    const xml = await put('<rules/>', { 'content-type': 'application/xml' });
    expect(xml.status).toBe(415);

    expect(fileText()).toBe(INITIAL);
    expect((await get()).body.rules.map((r) => r['name'])).toEqual(['hot']);
  });

  it('PUT with a stale If-Match is refused with 412', async () => {
    const stale = rulesETag('rules: []\n');
    const res = await put('rules: []\n', { 'if-match': stale });
    expect(res.status).toBe(412);
    expect(res.body['errors']).toEqual([{ path: '(file)', message: expect.stringContaining('changed by another edit') }]);
    // A weak tag never matches (strong comparison).
    expect((await put('rules: []\n', { 'if-match': `W/${(await get()).etag}` })).status).toBe(412);
    expect(fileText()).toBe(INITIAL);
  });

  it('PUT writes the file atomically and applies it before answering', async () => {
    const { etag } = await get();
    const next = `# edited over the API; comments are kept
rules:
  - name: hot
    match: { device: "a-*", sensor: temperature }
    above: 30
    for: 1s
  - name: cold
    match: { device: "a-*", sensor: temperature }
    below: 5
    severity: critical
`;
    const res = await put(next, { 'if-match': etag! });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, ruleCount: 2, etag: rulesETag(next) });
    expect(res.etag).toBe(rulesETag(next));
    expect(fileText()).toBe(next);
    expect(readdirSync(dirname(tg.config.alerts.rulesFile)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    // Applied already: no waiting for the file watcher.
    const after = await get();
    expect(after.body.rules.map((r) => r['name'])).toEqual(['hot', 'cold']);
    expect(after.body.status).toMatchObject({ ruleCount: 2, etag: rulesETag(next), errors: [] });
    const base = baseTs(5_000);
    await sendReading(dev, 'a-1', 'temperature', base, 1);
    const fired = await sub.next('cold firing', (r) => r.topic === 'alerts/a-1/temperature/cold');
    expect(fired.msg).toMatchObject({ state: 'firing', severity: 'critical', value: 1, threshold: 5, ts: base });

    const alerts = (await (await fetch(`${tg.httpUrl}/api/alerts`)).json()) as unknown;
    expect(alerts).toEqual({
      firing: [
        { rule: 'cold', kind: 'threshold', device: 'a-1', sensor: 'temperature', severity: 'critical', since: base, firedAt: base, value: 1, threshold: 5 },
      ],
    });
  });

  it('two PUTs racing on the same If-Match: one wins, the other gets 412', async () => {
    const { etag } = await get();
    const a = 'rules:\n  - { name: a, above: 1 }\n';
    const b = 'rules:\n  - { name: b, above: 2 }\n';
    const [ra, rb] = await Promise.all([put(a, { 'if-match': etag! }), put(b, { 'if-match': etag! })]);
    expect([ra.status, rb.status].sort()).toEqual([200, 412]);
    const winner = ra.status === 200 ? a : b;
    expect(fileText()).toBe(winner);
    expect((await get()).etag).toBe(rulesETag(winner));
  });

  it('PUT accepts JSON (stored as sent), a list of ETags and If-Match: *', async () => {
    const { etag } = await get();
    const json = JSON.stringify({ rules: [{ name: 'silent', match: { device: 'a-*' }, noData: '30s', severity: 'info' }] });
    const res = await put(json, { 'content-type': 'application/json; charset=utf-8', 'if-match': `"nope", ${etag}` });
    expect(res.status).toBe(200);
    expect(fileText()).toBe(json);
    expect((await get()).body.rules).toEqual([{ kind: 'noData', name: 'silent', match: { device: 'a-*', sensor: '*' }, severity: 'info', noDataMs: 30_000 }]);

    expect((await put(INITIAL, { 'if-match': '*' })).status).toBe(200);
    expect(fileText()).toBe(INITIAL);
  });

  it('keeps its raw-text body parsers to its own routes: other admin routes still get parsed JSON', async () => {
    const res = await fetch(`${tg.httpUrl}/test/echo`, { method: 'POST', body: '{"a": 1}', headers: { 'content-type': 'application/json' } });
    expect(await res.json()).toEqual({ type: 'object', body: { a: 1 } });
  });
});

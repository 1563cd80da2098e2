import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import type { Reading } from '../../gateway/pipeline/types.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect } from '../support/mqtt.js';
import { storedWindows } from '../support/telemetry.js';
import { referenceWindows } from '../support/reference.js';
import { alertSubscriber, baseTs, replaceFile, sendReading, type AlertSubscriber } from './alerts-helpers.js';

/**
 * Hot reload of the rules file while a device keeps publishing: valid edits apply without a restart and
 * without losing a reading (every window in InfluxDB is still exact), alerts of unchanged rules keep their
 * state, a removed rule's firing alerts resolve; invalid edits keep the running rules and are reported with
 * line and column in the log, /health and GET /api/thresholds.
 */
const INITIAL = `rules:
  - name: hot
    match: { device: "h-*", sensor: temperature }
    above: 50
    severity: critical
  - name: gone
    match: { device: "h-*", sensor: temperature }
    above: 50
`;

const EDITED = `rules:
  - name: hot            # same name and match: keeps its state; the new hysteresis applies from the next reading
    match: { device: "h-*", sensor: temperature }
    above: 50
    hysteresis: 5
    severity: critical
  - name: fresh
    match: { device: "h-*", sensor: temperature }
    above: 55
    severity: info
`;

interface RulesStatus {
  ruleCount: number;
  etag: string | null;
  errors: { path: string; line?: number; column?: number; message: string }[];
}

describe('alerts: hot reload of the rules file', () => {
  let influx: InfluxServer;
  let tg: TestGateway;
  let sub: AlertSubscriber;
  let dev: MqttClient;

  beforeAll(async () => {
    influx = await startInfluxd();
    tg = await startTestGateway({ influxUrl: influx.url, rules: INITIAL });
    sub = await alertSubscriber(tg.mqttUrl, 'watcher');
    dev = await connect(tg.mqttUrl, { clientId: 'h-1' });
  });

  afterAll(async () => {
    await sub?.client.endAsync();
    await dev?.endAsync();
    await tg?.dispose();
    await influx?.dispose();
  });

  const health = async () => ((await (await fetch(`${tg.httpUrl}/health`)).json()) as { alerts: { rules: RulesStatus } }).alerts.rules;
  const thresholds = async () =>
    (await (await fetch(`${tg.httpUrl}/api/thresholds`)).json()) as { rules: { name: string }[]; status: RulesStatus; etag: string };
  const firing = async () => ((await (await fetch(`${tg.httpUrl}/api/alerts`)).json()) as { firing: { rule: string; since: number }[] }).firing;

  it('applies valid edits live, keeps the old rules on invalid ones, and loses no reading meanwhile', async () => {
    const rulesFile = tg.config.alerts.rulesFile;
    const base = baseTs(60_000);
    const sent: Reading[] = [];
    let value = 60;
    let running = true;
    // The device publishes every ~10 ms (QoS 1, one at a time) during every edit below.
    const publisher = (async () => {
      for (let i = 0; running; i++) {
        const r = { device: 'h-1', sensor: 'temperature', ts: base + i * 50, value: value + (i % 3) / 10 };
        await sendReading(dev, r.device, r.sensor, r.ts, r.value);
        sent.push(r);
        await new Promise((res) => setTimeout(res, 10));
      }
    })();
    const on = (rule: string, state: string) => (r: { topic: string; msg: { state: string } }) =>
      r.topic === `alerts/h-1/temperature/${rule}` && r.msg.state === state;

    try {
      const hotFired = await sub.next('hot firing', on('hot', 'firing'));
      await sub.next('gone firing', on('gone', 'firing'));
      const hotSince = (await firing()).find((a) => a.rule === 'hot')!.since;
      expect(hotSince).toBe(hotFired.msg.since);

      // A valid edit: `gone` removed (its firing alert resolves), `fresh` added, `hot` kept.
      const readingsBefore = sent.length;
      const reloadedAt = Date.now();
      replaceFile(rulesFile, EDITED);
      const goneResolved = await waitFor('gone resolved', () => sub.received.find(on('gone', 'resolved')));
      expect(goneResolved.msg).toMatchObject({ state: 'resolved', rule: 'gone', threshold: 50 });
      expect(goneResolved.msg.ts).toBeGreaterThanOrEqual(reloadedAt); // gateway time of the reload
      await waitFor('fresh firing', () => sub.received.find(on('fresh', 'firing')));
      expect(sent.length).toBeGreaterThan(readingsBefore); // the device kept publishing through the reload
      expect((await thresholds()).rules.map((r) => r.name)).toEqual(['hot', 'fresh']);
      expect((await firing()).find((a) => a.rule === 'hot')?.since).toBe(hotSince);
      expect(sub.where((r) => r.topic === 'alerts/h-1/temperature/hot').map((r) => r.msg.state)).toEqual(['firing']);
      const goodEtag = (await thresholds()).etag;

      // A YAML syntax error: the running rules stay, the error is reported with its position.
      replaceFile(rulesFile, 'rules:\n  - name: hot\n    above: [50\n');
      const syntax = await waitFor('syntax error in /health', async () => {
        const h = await health();
        return h.errors.length > 0 ? h : undefined;
      });
      expect(syntax.errors[0]).toMatchObject({ path: '(file)', line: expect.any(Number), column: expect.any(Number) });
      expect(syntax).toMatchObject({ ruleCount: 2, etag: goodEtag });
      // ...and the rules still run: the value drops below 50 - 5, `hot` and `fresh` resolve.
      value = 40;
      await waitFor('hot resolved under the old rules', () => sub.received.find(on('hot', 'resolved')));
      await waitFor('fresh resolved', () => sub.received.find(on('fresh', 'resolved')));

      // A schema error: reported with path, line and column in /health, the API and the log.
      replaceFile(rulesFile, 'rules:\n  - name: hot\n    above: warm\n');
      const schemaError = { path: 'rules[0].above', line: 3, column: 12 };
      await waitFor('schema error in /health', async () => ((await health()).errors.some((e) => e.path === 'rules[0].above') ? true : undefined));
      expect((await health()).errors).toEqual([expect.objectContaining(schemaError)]);
      const api = await thresholds();
      expect(api.status.errors).toEqual([expect.objectContaining(schemaError)]);
      expect(api.rules.map((r) => r.name)).toEqual(['hot', 'fresh']);
      const logged = tg.logLines().filter((l) => l['msg'] === 'threshold rules file is invalid: the previous rules keep running');
      expect(logged.length).toBe(2);
      expect(logged[1]!['errors']).toEqual([
        expect.stringMatching(new RegExp(`^${rulesFile.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:12: rules\\[0\\]\\.above: `)),
      ]);
      expect(String((logged[0]!['errors'] as string[])[0])).toMatch(/:\d+:\d+: \(file\): /);
      // Still the old rules: `hot` fires again.
      value = 60;
      await waitFor('hot firing again', () => (sub.where(on('hot', 'firing')).length === 2 ? true : undefined));

      // Fixing the file clears the errors.
      replaceFile(rulesFile, INITIAL);
      await waitFor('errors cleared', async () => ((await health()).errors.length === 0 ? true : undefined));
      expect(await metricValue(tg.gw, 'rulesReloads', { result: 'applied' })).toBe(2);
      expect(await metricValue(tg.gw, 'rulesReloads', { result: 'invalid' })).toBe(2);
    } finally {
      running = false;
      await publisher;
    }

    // Not one reading lost or double-counted across the reloads: every window is exact and complete.
    const reference = referenceWindows(sent, 1000);
    const stored = await waitFor('every window in InfluxDB', async () => {
      const s = await storedWindows(influx, 'test-gw');
      return s.size === reference.size && tg.gw.outbox.status().points === 0 ? s : undefined;
    });
    expect(await metricValue(tg.gw, 'readingsAccepted')).toBe(sent.length);
    for (const [key, ref] of reference) {
      const got = stored.get(key);
      expect(got, key).toBeDefined();
      expect({ mean: got!.mean, min: got!.min, max: got!.max, first: got!.first, last: got!.last, count: got!.count }, key).toEqual({ ...ref });
    }
  });
});

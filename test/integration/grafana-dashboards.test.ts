import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkDashboard, type CaseResult, type DashboardCheck, type QueryCase, type RunQuery } from '../../gateway/grafana/check.js';
import { DASHBOARDS_DIR } from '../../gateway/grafana/generate.js';
import type { Dashboard } from '../../gateway/grafana/model.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect, publish } from '../support/mqtt.js';
import { storedWindows, type StoredWindow } from '../support/telemetry.js';

/**
 * Every query of the committed dashboards, expanded as Grafana expands it, run against a real InfluxDB that the
 * real gateway filled: readings, rejected messages, duplicates, a late reading, an alert that fires and resolves,
 * and an InfluxDB outage. Each panel must show what we caused, not just "no error".
 */
const RULES = `rules:
  - name: hot
    match: { device: "gh-*", sensor: temperature }
    above: 30
    severity: critical
`;

const load = (file: string) => JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard;

function influxRunner(influx: InfluxServer): RunQuery {
  return async (q) => {
    const res = await fetch(`${influx.url}/query?${new URLSearchParams({ db: 'iot', epoch: 'ms', q })}`);
    const json = (await res.json()) as { results?: { series?: []; error?: string }[]; error?: string };
    if (json.error) return { error: json.error };
    return json.results?.[0] ?? {};
  };
}

/** Rows of a case as objects keyed by column, with the series tags merged in. */
function rows(r: CaseResult | undefined): Record<string, unknown>[] {
  return (r?.series ?? []).flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
}

function find(check: DashboardCheck, title: string, repeat: Record<string, string> = {}): CaseResult {
  const r = check.results.find((x) => x.title === title && JSON.stringify(x.repeat) === JSON.stringify(repeat));
  if (!r) throw new Error(`no query case "${title}" ${JSON.stringify(repeat)}`);
  return r;
}

const sumOf = (rs: Record<string, unknown>[], col: string) => rs.reduce((s, r) => s + (typeof r[col] === 'number' ? (r[col] as number) : 0), 0);

describe('Grafana dashboards against the real gateway and InfluxDB', () => {
  let influx: InfluxServer;
  let tg: TestGateway;
  let client: MqttClient;
  let base: number;
  let windows: Map<string, StoredWindow>;
  const accepted = new Map<string, number>();
  const run = () => influxRunner(influx);
  const range = () => ({ from: base - 5000, to: Date.now() + 2000, intervalMs: 1000 });

  beforeAll(async () => {
    influx = await startInfluxd();
    tg = await startTestGateway({ influxUrl: influx.url, rules: RULES });
    client = await connect(tg.mqttUrl, { clientId: 'grafana-test' });
    base = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    const count = (device: string, sensor: string) => accepted.set(`${device}|${sensor}`, (accepted.get(`${device}|${sensor}`) ?? 0) + 1);

    // gh-1: two sensors, 4 readings a window over 5 windows; 3 messages sent twice (6 duplicate readings).
    const gh1: string[] = [];
    for (let i = 0; i < 20; i++) {
      gh1.push(JSON.stringify({ ts: base + i * 250, readings: { temperature: 20 + i / 10, humidity: 50 - i / 4 } }));
      count('gh-1', 'temperature');
      count('gh-1', 'humidity');
    }
    for (const m of [...gh1, gh1[2]!, gh1[7]!, gh1[11]!]) await publish(client, 'devices/gh-1/telemetry', m);
    // The alert: fires at 35, resolves at 20.
    await publish(client, 'devices/gh-1/telemetry', JSON.stringify({ ts: base + 5000, readings: { temperature: 35 } }));
    await publish(client, 'devices/gh-1/telemetry', JSON.stringify({ ts: base + 6000, readings: { temperature: 20 } }));
    count('gh-1', 'temperature');
    count('gh-1', 'temperature');
    // gh.2 (a dot: regex-escaped by Grafana) on the per-sensor topic, and ghx2, which an unescaped `gh.2` would match.
    for (let i = 0; i < 6; i++) {
      await publish(client, 'devices/gh.2/sensors/pressure', JSON.stringify({ ts: base + i * 500 + 3, value: 1000 + i }));
      count('gh.2', 'pressure');
    }
    await publish(client, 'devices/ghx2/sensors/pressure', JSON.stringify({ ts: base + 100, value: 990 }));
    count('ghx2', 'pressure');
    // Refused: one of each reason.
    await publish(client, 'devices/gh-1/telemetry', '{"readings": ');
    await publish(client, 'devices/gh-1/telemetry', JSON.stringify({ ts: base + 300, readings: { temperature: 'hot' } }));
    await publish(client, 'devices/gh-1/telemetry', JSON.stringify({ ts: base + 300, readings: { temperature: 1 }, timestamp: 1 }));
    // Late: older than the correction and dedup horizons.
    await publish(client, 'devices/gh-1/telemetry', JSON.stringify({ ts: base - 70_000, readings: { temperature: -1 } }));

    const expectedWindows = 7 + 5 + 3 + 1; // gh-1 temperature (5 + the 2 alert readings), humidity, gh.2, ghx2
    windows = await waitFor('all windows in InfluxDB', async () => {
      const w = await storedWindows(influx, 'test-gw');
      return w.size >= expectedWindows ? w : undefined;
    });
    expect(await metricValue(tg.gw, 'readingsLate')).toBe(1);
    expect(await metricValue(tg.gw, 'readingsDuplicate')).toBe(6);

    // An outage: the stats sampled while InfluxDB is down say influx_up=0 and reach InfluxDB afterwards.
    await influx.stop();
    await waitFor('the gateway to see InfluxDB down', () => (tg.gw.outbox.status().influxUp ? undefined : true));
    const downAt = Date.now();
    await waitFor('two stats samples during the outage', () => (Date.now() > downAt + 2500 ? true : undefined));
    await influx.start();
    await waitFor('the outage samples in InfluxDB', async () => {
      const r = await influx.rows(`SELECT "influx_up" FROM "gateway_stats" WHERE "influx_up" = 0`, 'iot');
      return r.length > 0 && tg.gw.outbox.status().influxUp ? true : undefined;
    });
    // One more sample after the outage, so the counters' last values are in.
    const after = Date.now();
    await waitFor('a stats sample after recovery', async () => {
      const r = await influx.rows(`SELECT last("messages_received") FROM "gateway_stats" WHERE time > ${after}ms`, 'iot');
      return r.length > 0 ? true : undefined;
    });
  });

  afterAll(async () => {
    await client?.endAsync();
    await tg?.dispose();
    await influx?.dispose();
  });

  it('sensors: every variable, panel and annotation query returns the data the gateway wrote', async () => {
    const check = await checkDashboard(load('sensors.json'), run(), range());
    expect(check.problems).toEqual([]);
    expect(check.variables['device']!.options).toEqual(['gh-1', 'gh.2', 'ghx2']);
    expect(check.variables['sensor']!.options).toEqual(['humidity', 'pressure', 'temperature']);

    // Last value: one per (device, sensor), the `last` of its newest window.
    const last = rows(find(check, 'Last value'));
    const newest = new Map<string, StoredWindow>();
    for (const w of windows.values()) {
      const k = `${w.device}|${w.sensor}`;
      if ((newest.get(k)?.start ?? -Infinity) < w.start) newest.set(k, w);
    }
    expect(new Map(last.map((r) => [`${String(r['device'])}|${String(r['sensor'])}`, r['last']]))).toEqual(new Map([...newest].map(([k, w]) => [k, w.last])));

    // Data density: the counts add up to the readings accepted per sensor.
    const density = rows(find(check, 'Readings per window'));
    for (const [key, n] of accepted) {
      const [device, sensor] = key.split('|');
      expect(
        sumOf(
          density.filter((r) => r['device'] === device && r['sensor'] === sensor),
          'sum',
        ),
        key,
      ).toBe(n);
    }

    // The repeated mean/min/max panel: exactly the stored windows of its (device, sensor); nothing where none exists.
    for (const device of ['gh-1', 'gh.2', 'ghx2']) {
      for (const sensor of ['humidity', 'pressure', 'temperature']) {
        const got = rows(find(check, '$sensor', { device, sensor })).map((r) => ({ start: r['time'], mean: r['mean'], min: r['min'], max: r['max'] }));
        const want = [...windows.values()]
          .filter((w) => w.device === device && w.sensor === sensor)
          .sort((a, b) => a.start - b.start)
          .map((w) => ({ start: w.start, mean: w.mean, min: w.min, max: w.max }));
        expect(got, `${device} ${sensor}`).toEqual(want);
      }
    }

    // Alert annotations: the firing and the resolve, at the readings' times.
    const firing = rows(find(check, 'Alerts firing'));
    const resolved = rows(find(check, 'Alerts resolved'));
    expect(firing.map((r) => ({ time: r['time'], value: r['value'], rule: r['rule'], device: r['device'], threshold: r['threshold'] }))).toEqual([
      { time: base + 5000, value: 35, rule: 'hot', device: 'gh-1', threshold: 30 },
    ]);
    expect(resolved.map((r) => ({ time: r['time'], value: r['value'], rule: r['rule'] }))).toEqual([{ time: base + 6000, value: 20, rule: 'hot' }]);
  });

  it('sensors: a selection filters with an escaped regex (gh.2 does not match ghx2)', async () => {
    // gh.2 had no alert: its annotations are rightly empty.
    const allowEmpty = (c: QueryCase) => c.kind === 'annotation';
    const check = await checkDashboard(load('sensors.json'), run(), { ...range(), selection: { device: ['gh.2'] }, allowEmpty });
    expect(check.problems).toEqual([]);
    expect(find(check, 'Last value').query).toContain('"device" =~ /^gh\\.2$/');
    expect(rows(find(check, 'Last value')).map((r) => `${String(r['device'])} ${String(r['sensor'])}`)).toEqual(['gh.2 pressure']);
    expect(check.variables['sensor']!.options).toEqual(['pressure']);
    const both = await checkDashboard(load('sensors.json'), run(), {
      ...range(),
      selection: { device: ['gh-1', 'gh.2'], sensor: ['pressure', 'temperature'] },
      allowEmpty,
    });
    expect(both.problems).toEqual([]);
    expect(find(both, 'Last value').query).toContain('"device" =~ /^(gh-1|gh\\.2)$/ AND "sensor" =~ /^(pressure|temperature)$/');
    expect(rows(find(both, 'Last value')).map((r) => `${String(r['device'])} ${String(r['sensor'])}`)).toEqual(['gh-1 temperature', 'gh.2 pressure']);
  });

  it('gateway health: rejections by reason, duplicates, late readings, backlog and the outage', async () => {
    const check = await checkDashboard(load('gateway-health.json'), run(), range());
    expect(check.problems).toEqual([]);
    expect(check.variables['gateway']!.options).toEqual(['test-gw']);

    const rejected = rows(find(check, 'Rejected messages by reason'));
    const byReason = new Map<string, number>();
    for (const r of rejected) byReason.set(String(r['reason']), (byReason.get(String(r['reason'])) ?? 0) + (r['non_negative_difference'] as number));
    expect(Object.fromEntries(byReason)).toEqual({ bad_value: 1, invalid_json: 1, unknown_field: 1 });

    expect(sumOf(rows(find(check, 'Duplicates dropped')), 'duplicates')).toBe(6);
    expect(sumOf(rows(find(check, 'Late readings dropped')), 'late')).toBe(1);
    expect(await metricValue(tg.gw, 'messagesReceived')).toBe(36);
    const rate = rows(find(check, 'Messages per second'));
    expect(Math.max(...rate.map((r) => r['received'] as number))).toBeGreaterThan(0);
    expect(Math.max(...rate.map((r) => r['readings accepted'] as number))).toBeGreaterThan(0);

    const up = rows(find(check, 'InfluxDB reachable')).map((r) => r['min']);
    expect(up).toContain(0);
    expect(up[up.length - 1]).toBe(1);
    const backlog = rows(find(check, 'Outbox backlog'));
    expect(Math.max(...backlog.map((r) => r['points'] as number))).toBeGreaterThan(0);
    expect(backlog.every((r) => typeof r['oldest age'] === 'number')).toBe(true);
    const lost = rows(find(check, 'Points lost'));
    expect(sumOf(lost, 'dropped') + sumOf(lost, 'dead-lettered')).toBe(0);
    expect(Math.max(...rows(find(check, 'Points written per second')).map((r) => r['written'] as number))).toBeGreaterThan(0);
  });

  it('the gateway_stats examples in docs/wire-contract.md return data', async () => {
    const doc = readFileSync('docs/wire-contract.md', 'utf8');
    const section = doc.slice(doc.indexOf('### Measurement `gateway_stats`'));
    const block = /```sql\n([\s\S]*?)```/.exec(section)![1]!;
    const statements = block.trim().split('\n');
    expect(statements.length).toBeGreaterThanOrEqual(3);
    for (const q of statements) {
      // Our gateway's id, and buckets as short as the test's minute of data.
      const answer = await run()(q.replace("'edge-1'", "'test-gw'").replace(/GROUP BY time\(\w+\)/, 'GROUP BY time(1s)'));
      expect(answer.error, q).toBeUndefined();
      expect(answer.series?.length, q).toBeGreaterThan(0);
    }
  });

  it('reports a dashboard whose query names a field or tag the gateway does not write', async () => {
    const sensors = load('sensors.json');
    const broken = (from: string, to: string): Dashboard => JSON.parse(JSON.stringify(sensors).replace(from, to)) as Dashboard;
    const problems = async (d: Dashboard) => (await checkDashboard(d, run(), range())).problems;

    expect(await problems(broken('last(\\"last\\")', 'last(\\"lastt\\")'))).toEqual([expect.stringMatching(/panel "Last value" \/ A: no series/)]);
    expect(await problems(broken('sum(\\"count\\")', 'sum(\\"count\\"), max(\\"bogus\\")'))).toEqual([
      expect.stringMatching(/panel "Readings per window" \/ A: column "max" is null in every row/),
    ]);
    expect(await problems(broken('GROUP BY \\"device\\", \\"sensor\\"', 'GROUP BY \\"device\\", \\"site\\"'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/series grouped by tag "site" has no value/), expect.stringMatching(/alias uses \$tag_sensor/)]),
    );
    expect(await problems(broken('WITH KEY = \\"sensor\\"', 'WITH KEY = \\"probe\\"'))).toEqual(
      expect.arrayContaining([expect.stringMatching(/variable \$sensor: no series/)]),
    );
    expect(await problems(broken('SELECT last(', 'SELEC last('))).toEqual([
      expect.stringMatching(/panel "Last value" \/ A: InfluxDB error: error parsing query/),
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { checkDashboard, judge, variableValues, type InfluxAnswer, type QueryCase, type RunQuery } from '../../../gateway/grafana/check.js';
import { sensorsDashboard } from '../../../gateway/grafana/sensors.js';

/** The checker's judgement on canned InfluxDB answers; the real InfluxDB run is test/integration/grafana-dashboards. */
const CASE: QueryCase = {
  dashboard: 'd',
  kind: 'panel',
  title: 'p',
  refId: 'A',
  group: 'd / panel "p" / A',
  repeat: {},
  raw: '',
  query: 'SELECT ...',
  needsColumns: [],
};
const series = (columns: string[], values: unknown[][], tags?: Record<string, string>) => ({ name: 'telemetry', columns, values, ...(tags ? { tags } : {}) });

/** A fake InfluxDB that knows the gateway's schema: a query naming anything else returns no series, as InfluxDB does. */
const KNOWN = new Set(['telemetry', 'alerts', 'device', 'sensor', 'state', 'value', 'threshold', 'rule', 'severity', 'mean', 'min', 'max', 'last', 'count']);
const fake: RunQuery = async (q) => {
  if ([...q.matchAll(/"([^"]+)"/g)].some((m) => !KNOWN.has(m[1]!))) return {};
  const key = /WITH KEY = "(\w+)"/.exec(q)?.[1];
  if (key) return { series: [series(['key', 'value'], [[key, key === 'device' ? 'gh-1' : 'temperature']])] };
  const select = q.slice('SELECT '.length, q.indexOf(' FROM '));
  const cols = select.split(', ').map((part) => /AS "([^"]+)"$/.exec(part)?.[1] ?? /^(\w+)\(/.exec(part)?.[1] ?? part.replaceAll('"', ''));
  const tagKeys = [...(/GROUP BY (.*)$/.exec(q)?.[1] ?? '').matchAll(/"(\w+)"/g)].map((m) => m[1]!);
  const tags = tagKeys.length ? Object.fromEntries(tagKeys.map((k) => [k, k === 'device' ? 'gh-1' : 'temperature'])) : undefined;
  return { series: [series(['time', ...cols], [[1000, ...cols.map(() => 1)]], tags)] };
};

describe('dashboard checker', () => {
  it('accepts an answer with values in every column', () => {
    expect(judge(CASE, { series: [series(['time', 'mean'], [[1, 2.5]])] })).toEqual([]);
  });

  it('reports InfluxDB errors, all-null columns, empty group-by tags, missing alias tags and annotation columns', () => {
    expect(judge(CASE, { error: 'error parsing query' })).toEqual([expect.stringContaining('InfluxDB error: error parsing query')]);
    expect(
      judge(CASE, {
        series: [
          series(
            ['time', 'mean', 'max'],
            [
              [1, 2, null],
              [2, 3, null],
            ],
          ),
        ],
      }),
    ).toEqual([expect.stringContaining('column "max" is null in every row')]);
    expect(judge(CASE, { series: [series(['time', 'sum'], [[1, 2]], { site: '' })] })).toEqual([expect.stringContaining('grouped by tag "site" has no value')]);
    expect(judge({ ...CASE, alias: '$tag_device $col' }, { series: [series(['time', 'sum'], [[1, 2]], { sensor: 'x' })] })).toEqual([
      expect.stringContaining('alias uses $tag_device'),
    ]);
    expect(judge({ ...CASE, kind: 'annotation', needsColumns: ['value', 'rule'] }, { series: [series(['time', 'value'], [[1, 2]])] })).toEqual([
      expect.stringContaining('column "rule"'),
    ]);
  });

  it('reads variable values from SHOW TAG VALUES answers, sorted and unique', () => {
    const answer: InfluxAnswer = {
      series: [
        series(
          ['key', 'value'],
          [
            ['device', 'b'],
            ['device', 'a'],
          ],
        ),
        series(['key', 'value'], [['device', 'a']]),
      ],
    };
    expect(variableValues(answer)).toEqual(['a', 'b']);
  });

  it('reports a panel whose query names a field the gateway does not write: no series', async () => {
    const d = sensorsDashboard();
    const good = await checkDashboard(d, fake, { from: 0, to: 10_000, intervalMs: 1000 });
    expect(good.problems).toEqual([]);
    const bogus = JSON.parse(JSON.stringify(d).replace('last(\\"last\\")', 'last(\\"bogus\\")')) as typeof d;
    const bad = await checkDashboard(bogus, fake, { from: 0, to: 10_000, intervalMs: 1000 });
    expect(bad.problems).toEqual([expect.stringMatching(/^edge-gateway-sensors \/ panel "Last value" \/ A: no series \(query: SELECT last\("bogus"\)/)]);
  });

  it('expands repeated rows and panels per selected value, and asks every instance', async () => {
    const asked: string[] = [];
    const check = await checkDashboard(sensorsDashboard(), async (q) => (asked.push(q), fake(q)), { from: 0, to: 10_000, intervalMs: 1000 });
    const instances = check.results.filter((r) => r.title === '$sensor');
    expect(instances.map((r) => r.repeat)).toEqual([{ device: 'gh-1', sensor: 'temperature' }]);
    expect(instances[0]!.query).toContain(`"device" =~ /^gh-1$/ AND "sensor" =~ /^temperature$/ AND time >= 0ms and time <= 10000ms GROUP BY time(1s)`);
    expect(asked.filter((q) => /\$\w/.test(q))).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { escapeRegex, formatInterval, interpolate, replaceMacros, replaceVariables, type VariableState } from '../../../gateway/grafana/interpolate.js';

/** Expectations follow Grafana's own tests of its InfluxDB plugin (datasource.test.ts, query_test.go). */
const multi = (current: string[], options: string[] = current): VariableState => ({ current, options, multi: true, includeAll: true });
const single = (value: string): VariableState => ({ current: [value], options: [value], multi: false, includeAll: false });

describe('Grafana InfluxQL interpolation', () => {
  it('regex-escapes like @grafana/data escapeRegex, slash included', () => {
    expect(escapeRegex('/special/path')).toBe('\\/special\\/path');
    expect(escapeRegex('gh.2')).toBe('gh\\.2');
    expect(escapeRegex('a-b_c')).toBe('a-b_c');
    expect(escapeRegex('^$*+?.()|[]{}\\')).toBe('\\^\\$\\*\\+\\?\\.\\(\\)\\|\\[\\]\\{\\}\\\\');
  });

  it('formats intervals like Go gtime.FormatInterval (whole units, truncated)', () => {
    expect([0, 1, 250, 999, 1000, 1500, 10_000, 59_999, 60_000, 90_000, 3_600_000, 86_400_000, 400 * 86_400_000].map(formatInterval)).toEqual([
      '1ms',
      '1ms',
      '250ms',
      '999ms',
      '1s',
      '1s',
      '10s',
      '59s',
      '1m',
      '1m',
      '1h',
      '1d',
      '1y',
    ]);
  });

  it('turns a multi-value selection into an escaped alternation, and All into every option', () => {
    const q = `SELECT * FROM "t" WHERE "device" =~ /^$device$/`;
    expect(replaceVariables(q, { device: multi(['/special/path', '/some/other/path']) })).toBe(
      `SELECT * FROM "t" WHERE "device" =~ /^(\\/special\\/path|\\/some\\/other\\/path)$/`,
    );
    expect(replaceVariables(q, { device: multi(['$__all'], ['gh-1', 'gh.2']) })).toBe(`SELECT * FROM "t" WHERE "device" =~ /^(gh-1|gh\\.2)$/`);
    expect(replaceVariables(q, { device: multi(['gh.2']) })).toBe(`SELECT * FROM "t" WHERE "device" =~ /^gh\\.2$/`);
    expect(replaceVariables(q, { device: { ...multi(['$__all'], ['a']), allValue: '.*' } })).toBe(`SELECT * FROM "t" WHERE "device" =~ /^.*$/`);
  });

  it('escapes a single value only inside a regex literal', () => {
    expect(replaceVariables(`select that where path =~ /$v/`, { v: single('/special/path') })).toBe('select that where path =~ /\\/special\\/path/');
    expect(replaceVariables(`select that where path !~ /^$v$/`, { v: single('/special/path') })).toBe('select that where path !~ /^\\/special\\/path$/');
    expect(replaceVariables(`select that where path = '$v'`, { v: single('/special/path') })).toBe(`select that where path = '/special/path'`);
    expect(replaceVariables(`select value / $v from /^m$/`, { v: single('1.0') })).toBe('select value / 1.0 from /^m$/');
  });

  it('knows the ${var}, ${var:format} and [[var]] forms and leaves unknown variables alone', () => {
    const vars = { device: multi(['a', 'b']) };
    expect(replaceVariables('${device} [[device]] ${device:pipe} ${device:raw} $other $timeFilter', vars)).toBe('(a|b) (a|b) a|b a,b $other $timeFilter');
  });

  it('expands $timeFilter and the interval macros as the backend does, $__interval_ms before $__interval', () => {
    const scope = { from: 1_700_000_000_000, to: 1_700_000_060_000, intervalMs: 10_000 };
    expect(replaceMacros('WHERE $timeFilter GROUP BY time($__interval), time($interval) LIMIT $__interval_ms', scope)).toBe(
      'WHERE time >= 1700000000000ms and time <= 1700000060000ms GROUP BY time(10s), time(10s) LIMIT 10000',
    );
  });

  it('runs both stages', () => {
    expect(
      interpolate(`SELECT mean("mean") FROM "telemetry" WHERE "sensor" =~ /^$sensor$/ AND $timeFilter GROUP BY time($__interval)`, {
        variables: { sensor: multi(['$__all'], ['humidity', 'temperature']) },
        from: 1000,
        to: 2000,
        intervalMs: 1000,
      }),
    ).toBe(`SELECT mean("mean") FROM "telemetry" WHERE "sensor" =~ /^(humidity|temperature)$/ AND time >= 1000ms and time <= 2000ms GROUP BY time(1s)`);
  });
});

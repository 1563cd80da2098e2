/**
 * Expands a raw InfluxQL query the way Grafana does before sending it to InfluxDB, so tests (and an operator's
 * check against a live InfluxDB) run exactly what a dashboard would. Two stages, as in Grafana:
 *
 * 1. Frontend (templateSrv.replace with the InfluxDB plugin's regex formatting): `$var`, `${var}`, `${var:fmt}`,
 *    `[[var]]`. A multi-value or include-All variable becomes `(a|b)` with each value regex-escaped ("All" without
 *    a custom all value is every option); a single value is regex-escaped when it stands inside a `=~ /.../` or
 *    `!~ /.../` literal and left as is elsewhere. Unknown variables are left untouched.
 * 2. Backend (pkg/tsdb/influxdb/models/query.go `Build`): `$timeFilter` -> `time >= <from>ms and time <= <to>ms`,
 *    then `$interval`, `$__interval_ms`, `$__interval`, in that order; the interval is written like Go's
 *    gtime.FormatInterval (`1s`, `10s`, `2m`, `250ms`: whole units, truncated).
 */

export interface VariableState {
  /** Selected values, or the single value '$__all'. */
  readonly current: readonly string[];
  /** The values the variable's query returned; "All" expands to these. */
  readonly options: readonly string[];
  readonly multi: boolean;
  readonly includeAll: boolean;
  /** A custom "All" value, used verbatim (e.g. `.*`). */
  readonly allValue?: string;
}

export interface QueryScope {
  readonly variables: Readonly<Record<string, VariableState>>;
  /** Absolute time range, epoch ms. */
  readonly from: number;
  readonly to: number;
  /** The panel's interval (Grafana: range / max data points, at least the min interval), in ms. */
  readonly intervalMs: number;
}

/** @grafana/data `escapeRegex`: the characters InfluxQL regex literals need escaped, `/` included. */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

/** Go's gtime.FormatInterval. */
export function formatInterval(ms: number): string {
  const units: [number, string][] = [
    [365 * 86_400_000, 'y'],
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
    [1, 'ms'],
  ];
  for (const [size, unit] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  return '1ms';
}

// Grafana's variable syntax (public/app/features/variables/utils.ts, variableRegex).
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

function inRegexLiteral(before: string): boolean {
  // The text since the last `/` is preceded by `=~ /` or `!~ /`: we are inside a regex literal.
  return /[=!]~\s*\/[^/]*$/.test(before);
}

function formatValue(v: VariableState, format: string | undefined, before: string): string {
  const all = v.current.length === 1 && v.current[0] === '$__all';
  if (all && v.allValue !== undefined && v.allValue !== '') return v.allValue;
  const values = all ? v.options : v.current;
  if (format === 'raw') return values.join(',');
  if (format === 'pipe') return values.join('|');
  if (v.multi || v.includeAll || values.length !== 1) {
    const escaped = values.map(escapeRegex);
    return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
  }
  const single = values[0]!;
  return format === 'regex' || inRegexLiteral(before) ? escapeRegex(single) : single;
}

/** Stage 1: template variables only. */
export function replaceVariables(query: string, variables: QueryScope['variables']): string {
  return query.replace(VARIABLE, (match: string, ...groups: (string | number | undefined)[]) => {
    const [dollar, bracket, bracketFmt, braced, , bracedFmt] = groups as (string | undefined)[];
    const name = dollar ?? bracket ?? braced;
    const v = name === undefined ? undefined : variables[name];
    if (v === undefined) return match;
    const offset = groups[groups.length - 2] as number;
    return formatValue(v, bracketFmt ?? bracedFmt, query.slice(0, offset));
  });
}

/** Stage 2: the macros Grafana's backend replaces. */
export function replaceMacros(query: string, scope: Pick<QueryScope, 'from' | 'to' | 'intervalMs'>): string {
  const interval = formatInterval(scope.intervalMs);
  return query
    .replaceAll('$timeFilter', `time >= ${Math.trunc(scope.from)}ms and time <= ${Math.trunc(scope.to)}ms`)
    .replaceAll('$interval', interval)
    .replaceAll('$__interval_ms', String(Math.trunc(scope.intervalMs)))
    .replaceAll('$__interval', interval);
}

export function interpolate(query: string, scope: QueryScope): string {
  return replaceMacros(replaceVariables(query, scope.variables), scope);
}

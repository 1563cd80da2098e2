import { interpolate, type QueryScope, type VariableState } from './interpolate.js';
import type { Annotation, Dashboard, InfluxTarget, Panel, QueryVariable } from './model.js';

/**
 * Runs every query of a dashboard (template variables first, in order, then panels and annotations) against an
 * InfluxDB and reports what Grafana would show, so a dashboard that names a field or tag the gateway does not
 * write is caught without a Grafana. Repeated rows and panels are expanded per value, as Grafana does.
 */

export interface Series {
  readonly name: string;
  readonly columns: readonly string[];
  readonly values: readonly (readonly unknown[])[];
  readonly tags?: Readonly<Record<string, string>>;
}

export interface InfluxAnswer {
  readonly series?: readonly Series[];
  readonly error?: string;
}

/** Runs one InfluxQL statement (epoch=ms) and returns its result; throws on transport errors. */
export type RunQuery = (influxql: string) => Promise<InfluxAnswer>;

export interface QueryCase {
  readonly dashboard: string;
  readonly kind: 'variable' | 'panel' | 'annotation';
  /** Panel title, variable or annotation name. Repeated panels share it, so `group` joins their instances. */
  readonly title: string;
  readonly refId: string;
  /** `dashboard uid / kind title / refId`: a repeated panel's instances share it. */
  readonly group: string;
  /** Values of the repeat variables for this instance, e.g. { device: 'gh-1', sensor: 'temperature' }. */
  readonly repeat: Readonly<Record<string, string>>;
  readonly raw: string;
  readonly query: string;
  readonly alias?: string;
  /** Columns the annotation reads (text, tags). */
  readonly needsColumns: readonly string[];
}

export interface CaseResult extends QueryCase {
  readonly series: readonly Series[];
  readonly problems: readonly string[];
}

export interface CheckOptions {
  readonly from: number;
  readonly to: number;
  readonly intervalMs: number;
  /** Selected values per variable; default "All" (or the first value when a variable has no "All"). */
  readonly selection?: Readonly<Record<string, readonly string[]>>;
  /** Queries that may rightly return nothing for this selection (e.g. annotations when no alert fired). */
  readonly allowEmpty?: (c: QueryCase) => boolean;
}

export interface DashboardCheck {
  readonly variables: Readonly<Record<string, VariableState>>;
  readonly results: readonly CaseResult[];
  /** Every problem, one line each; empty when the dashboard is sound. */
  readonly problems: readonly string[];
}

/** Problems of one answer: an error, a column that is null everywhere, an empty group-by tag, a missing alias tag or column. */
export function judge(c: QueryCase, answer: InfluxAnswer): string[] {
  const at = `${c.group}${Object.keys(c.repeat).length ? ` ${JSON.stringify(c.repeat)}` : ''}`;
  if (answer.error) return [`${at}: InfluxDB error: ${answer.error} (query: ${c.query})`];
  const series = answer.series ?? [];
  if (series.length === 0) return [];
  const problems: string[] = [];
  const columns = new Set(series.flatMap((s) => s.columns));
  for (const col of columns) {
    if (col === 'time') continue;
    const someValue = series.some((s) => {
      const i = s.columns.indexOf(col);
      return i >= 0 && s.values.some((row) => row[i] !== null && row[i] !== undefined);
    });
    if (!someValue) problems.push(`${at}: column "${col}" is null in every row (a field the gateway does not write?)`);
  }
  for (const s of series) {
    for (const [k, v] of Object.entries(s.tags ?? {})) {
      if (v === '') problems.push(`${at}: series grouped by tag "${k}" has no value for it (a tag the gateway does not write?)`);
    }
  }
  for (const m of (c.alias ?? '').matchAll(/\$tag_(\w+)/g)) {
    const key = m[1]!;
    if (!series.every((s) => s.tags?.[key] !== undefined)) problems.push(`${at}: alias uses $tag_${key} but the query does not GROUP BY "${key}"`);
  }
  for (const col of c.needsColumns) {
    if (!columns.has(col)) problems.push(`${at}: annotation reads column "${col}" that the query does not return`);
  }
  return problems;
}

/** Values of a `SHOW TAG VALUES` (or any) answer: the `value` column, else the first non-time column. */
export function variableValues(answer: InfluxAnswer): string[] {
  const out = new Set<string>();
  for (const s of answer.series ?? []) {
    let i = s.columns.indexOf('value');
    if (i < 0) i = s.columns.findIndex((c) => c !== 'time');
    for (const row of s.values) if (i >= 0 && row[i] !== null && row[i] !== undefined) out.add(String(row[i]));
  }
  return [...out].sort();
}

/** Panels in display order with the repeat variables that apply to each (a row's repeat covers the panels under it). */
function panelsWithRepeats(panels: readonly Panel[]): { panel: Panel; repeats: string[] }[] {
  const out: { panel: Panel; repeats: string[] }[] = [];
  let rowRepeat: string | undefined;
  for (const p of panels) {
    if (p.type === 'row') {
      rowRepeat = p.repeat;
      for (const inner of p.panels ?? []) out.push({ panel: inner, repeats: [p.repeat, inner.repeat].filter((r): r is string => r !== undefined) });
      continue;
    }
    out.push({ panel: p, repeats: [rowRepeat, p.repeat].filter((r): r is string => r !== undefined) });
  }
  return out;
}

function selectedValues(v: VariableState): string[] {
  return v.current.length === 1 && v.current[0] === '$__all' ? [...v.options] : [...v.current];
}

/** Every combination of the repeat variables' selected values. */
function repeatInstances(repeats: readonly string[], vars: Readonly<Record<string, VariableState>>): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const name of repeats) {
    const v = vars[name];
    if (!v) throw new Error(`repeat by unknown variable $${name}`);
    out = out.flatMap((inst) => selectedValues(v).map((value) => ({ ...inst, [name]: value })));
  }
  return out;
}

export async function checkDashboard(d: Dashboard, run: RunQuery, opts: CheckOptions): Promise<DashboardCheck> {
  const results: CaseResult[] = [];
  const variables: Record<string, VariableState> = {};
  const base = { from: opts.from, to: opts.to, intervalMs: opts.intervalMs };
  const exec = async (c: QueryCase): Promise<InfluxAnswer> => {
    const answer = await run(c.query);
    results.push({ ...c, series: answer.series ?? [], problems: judge(c, answer) });
    return answer;
  };

  for (const v of d.templating.list as readonly QueryVariable[]) {
    const query = interpolate(v.query, { ...base, variables });
    const answer = await exec({
      dashboard: d.uid,
      kind: 'variable',
      title: v.name,
      refId: v.name,
      group: `${d.uid} / variable $${v.name}`,
      repeat: {},
      raw: v.query,
      query,
      needsColumns: [],
    });
    const options = variableValues(answer);
    const chosen = opts.selection?.[v.name] ?? (v.includeAll ? ['$__all'] : options.slice(0, 1));
    variables[v.name] = { current: chosen, options, multi: v.multi, includeAll: v.includeAll, ...(v.allValue ? { allValue: v.allValue } : {}) };
  }

  for (const { panel, repeats } of panelsWithRepeats(d.panels)) {
    for (const t of (panel.targets ?? []) as readonly InfluxTarget[]) {
      for (const inst of repeatInstances(repeats, variables)) {
        const scoped: QueryScope = { ...base, variables: { ...variables, ...scopeOf(inst, variables) } };
        await exec({
          dashboard: d.uid,
          kind: 'panel',
          title: panel.title,
          refId: t.refId,
          group: `${d.uid} / panel "${panel.title}" / ${t.refId}`,
          repeat: inst,
          raw: t.query,
          query: interpolate(t.query, scoped),
          ...(t.alias !== undefined ? { alias: t.alias } : {}),
          needsColumns: [],
        });
      }
    }
  }

  for (const a of d.annotations.list as readonly Annotation[]) {
    if (a.query === undefined) continue;
    const needsColumns = [a.textColumn, ...(a.tagsColumn ?? '').split(',')].map((c) => c?.trim()).filter((c): c is string => !!c);
    await exec({
      dashboard: d.uid,
      kind: 'annotation',
      title: a.name,
      refId: 'A',
      group: `${d.uid} / annotation "${a.name}"`,
      repeat: {},
      raw: a.query,
      query: interpolate(a.query, { ...base, variables }),
      needsColumns,
    });
  }

  // A query none of whose instances returns a series shows nothing in Grafana: a field or tag that is not written.
  const problems = results.flatMap((r) => r.problems);
  for (const group of new Set(results.map((r) => r.group))) {
    const instances = results.filter((r) => r.group === group);
    if (opts.allowEmpty?.(instances[0]!)) continue;
    if (instances.every((r) => r.series.length === 0 && r.problems.length === 0)) problems.push(`${group}: no series (query: ${instances[0]!.query})`);
  }
  return { variables, results, problems };
}

/** A repeated instance sees its repeat variables as one plain value, as Grafana's scopedVars do. */
function scopeOf(inst: Record<string, string>, vars: Readonly<Record<string, VariableState>>): Record<string, VariableState> {
  const out: Record<string, VariableState> = {};
  for (const [name, value] of Object.entries(inst)) out[name] = { ...vars[name]!, current: [value], multi: false, includeAll: false };
  return out;
}

/**
 * The part of Grafana's dashboard JSON model (schemaVersion 39, Grafana 10.3+; newer Grafana migrates it on load)
 * that our dashboards use, typed so a typo in a key is a compile error. Only what we emit is modelled: Grafana
 * fills every other key with its default when it loads a provisioned file.
 */

/** The provisioned data source (config/grafana/provisioning/datasources/influxdb.yaml). */
export const DATASOURCE = { type: 'influxdb', uid: 'gateway-influxdb' } as const;
export type DataSourceRef = typeof DATASOURCE;

export const SCHEMA_VERSION = 39;

/** A raw InfluxQL query. Grafana expands template variables, then $timeFilter / $__interval (see interpolate.ts). */
export interface InfluxTarget {
  readonly refId: string;
  readonly datasource: DataSourceRef;
  readonly rawQuery: true;
  readonly query: string;
  readonly resultFormat: 'time_series' | 'table';
  /** Legend: `$col` is the column name, `$tag_<key>` a tag of the series (the key must be in GROUP BY). */
  readonly alias?: string;
}

export interface GridPos {
  readonly h: number;
  readonly w: number;
  readonly x: number;
  readonly y: number;
}

export interface Threshold {
  readonly color: string;
  readonly value: number | null;
}

export interface ValueMapping {
  readonly type: 'value';
  readonly options: Readonly<Record<string, { readonly text: string; readonly color: string; readonly index: number }>>;
}

export interface FieldDefaults {
  readonly unit?: string;
  readonly decimals?: number;
  readonly min?: number;
  readonly max?: number;
  readonly color?: { readonly mode: 'palette-classic' | 'thresholds' | 'fixed'; readonly fixedColor?: string };
  readonly thresholds?: { readonly mode: 'absolute'; readonly steps: readonly Threshold[] };
  readonly mappings?: readonly ValueMapping[];
  readonly custom?: Readonly<Record<string, unknown>>;
}

export interface FieldOverride {
  readonly matcher: { readonly id: 'byName' | 'byRegexp'; readonly options: string };
  readonly properties: readonly { readonly id: string; readonly value: unknown }[];
}

export type PanelType = 'timeseries' | 'stat' | 'state-timeline' | 'row';

export interface Panel {
  readonly id: number;
  readonly type: PanelType;
  readonly title: string;
  readonly description?: string;
  readonly gridPos: GridPos;
  readonly datasource?: DataSourceRef;
  readonly targets?: readonly InfluxTarget[];
  readonly fieldConfig?: { readonly defaults: FieldDefaults; readonly overrides: readonly FieldOverride[] };
  readonly options?: Readonly<Record<string, unknown>>;
  /** Repeat this panel (or row) once per selected value of the variable. */
  readonly repeat?: string;
  readonly repeatDirection?: 'h' | 'v';
  readonly maxPerRow?: number;
  /** Rows only. */
  readonly collapsed?: boolean;
  readonly panels?: readonly Panel[];
}

export interface QueryVariable {
  readonly type: 'query';
  readonly name: string;
  readonly label: string;
  readonly datasource: DataSourceRef;
  readonly query: string;
  readonly definition: string;
  /** 1: on dashboard load, 2: on time range change. */
  readonly refresh: 1 | 2;
  readonly multi: boolean;
  readonly includeAll: boolean;
  /** Empty: "All" means every value, joined as a regex alternation. */
  readonly allValue?: string;
  readonly current: { readonly selected: boolean; readonly text: readonly string[]; readonly value: readonly string[] };
  readonly options: readonly never[];
  readonly regex: string;
  /** 1: alphabetical ascending. */
  readonly sort: number;
  readonly hide: 0 | 1 | 2;
}

/** An InfluxQL annotation query (the legacy top-level form; Grafana's InfluxDB plugin migrates it on load). */
export interface Annotation {
  readonly name: string;
  readonly datasource: DataSourceRef | { readonly type: 'grafana'; readonly uid: '-- Grafana --' };
  readonly enable: boolean;
  readonly hide: boolean;
  readonly iconColor: string;
  readonly builtIn?: 1;
  readonly type?: 'dashboard';
  readonly query?: string;
  readonly titleColumn?: string;
  readonly textColumn?: string;
  readonly tagsColumn?: string;
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly timezone: 'browser' | 'utc';
  readonly schemaVersion: number;
  readonly version: number;
  readonly editable: boolean;
  readonly graphTooltip: 0 | 1 | 2;
  readonly refresh: string;
  readonly time: { readonly from: string; readonly to: string };
  readonly templating: { readonly list: readonly QueryVariable[] };
  readonly annotations: { readonly list: readonly Annotation[] };
  readonly panels: readonly Panel[];
}

import {
  DATASOURCE,
  SCHEMA_VERSION,
  type Annotation,
  type Dashboard,
  type FieldDefaults,
  type FieldOverride,
  type GridPos,
  type InfluxTarget,
  type Panel,
  type PanelType,
  type QueryVariable,
} from './model.js';

/** A raw InfluxQL target. */
export function influx(refId: string, query: string, alias?: string): InfluxTarget {
  return { refId, datasource: DATASOURCE, rawQuery: true, query, resultFormat: 'time_series', ...(alias !== undefined ? { alias } : {}) };
}

/** A multi-value variable with "All", listing one tag's values (`SHOW TAG VALUES`), optionally filtered. */
export function tagValuesVariable(name: string, label: string, measurement: string, key: string, where?: string): QueryVariable {
  const query = `SHOW TAG VALUES FROM "${measurement}" WITH KEY = "${key}"${where ? ` WHERE ${where}` : ''}`;
  return {
    type: 'query',
    name,
    label,
    datasource: DATASOURCE,
    query,
    definition: query,
    refresh: 2,
    multi: true,
    includeAll: true,
    current: { selected: true, text: ['All'], value: ['$__all'] },
    options: [],
    regex: '',
    sort: 1,
    hide: 0,
  };
}

/** The built-in annotation Grafana adds to every dashboard; emitted so a saved copy diffs cleanly. */
export const BUILTIN_ANNOTATION: Annotation = {
  name: 'Annotations & Alerts',
  builtIn: 1,
  type: 'dashboard',
  datasource: { type: 'grafana', uid: '-- Grafana --' },
  enable: true,
  hide: true,
  iconColor: 'rgba(0, 211, 255, 1)',
};

export function influxAnnotation(name: string, iconColor: string, query: string, columns: { text: string; tags: string }): Annotation {
  return { name, datasource: DATASOURCE, enable: true, hide: false, iconColor, query, textColumn: columns.text, tagsColumn: columns.tags };
}

export interface PanelSpec {
  readonly type: Exclude<PanelType, 'row'>;
  readonly title: string;
  readonly description?: string;
  readonly w: number;
  readonly h: number;
  readonly targets: readonly InfluxTarget[];
  readonly defaults?: FieldDefaults;
  readonly overrides?: readonly FieldOverride[];
  readonly options?: Readonly<Record<string, unknown>>;
  readonly repeat?: string;
  readonly maxPerRow?: number;
}

/**
 * Places panels left to right on Grafana's 24-column grid, wrapping to a new line, and numbers them: ids and
 * positions are derived, so a definition only says what a panel shows and how big it is.
 */
export class Layout {
  private readonly out: Panel[] = [];
  private id = 1;
  private x = 0;
  private y = 0;
  private lineHeight = 0;

  add(spec: PanelSpec): this {
    const gridPos = this.place(spec.w, spec.h);
    this.out.push({
      id: this.id++,
      type: spec.type,
      title: spec.title,
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      gridPos,
      datasource: DATASOURCE,
      targets: spec.targets,
      fieldConfig: { defaults: spec.defaults ?? {}, overrides: spec.overrides ?? [] },
      options: spec.options ?? {},
      ...(spec.repeat !== undefined ? { repeat: spec.repeat, repeatDirection: 'h' as const, maxPerRow: spec.maxPerRow ?? 2 } : {}),
    });
    return this;
  }

  /** A full-width row header; with `repeat`, the row and the panels after it repeat per value. */
  row(title: string, repeat?: string): this {
    this.newLine();
    this.out.push({
      id: this.id++,
      type: 'row',
      title,
      gridPos: { h: 1, w: 24, x: 0, y: this.y },
      collapsed: false,
      panels: [],
      ...(repeat ? { repeat } : {}),
    });
    this.y += 1;
    return this;
  }

  panels(): Panel[] {
    return [...this.out];
  }

  private place(w: number, h: number): GridPos {
    if (w < 1 || w > 24) throw new Error(`panel width ${w} is outside 1..24`);
    if (this.x + w > 24) this.newLine();
    const pos = { h, w, x: this.x, y: this.y };
    this.x += w;
    this.lineHeight = Math.max(this.lineHeight, h);
    return pos;
  }

  private newLine(): void {
    this.y += this.lineHeight;
    this.x = 0;
    this.lineHeight = 0;
  }
}

export function dashboard(
  d: Pick<Dashboard, 'uid' | 'title' | 'description' | 'tags' | 'templating' | 'annotations' | 'panels'> & { time?: Dashboard['time'] },
): Dashboard {
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: d.tags,
    timezone: 'browser',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    time: d.time ?? { from: 'now-6h', to: 'now' },
    templating: d.templating,
    annotations: d.annotations,
    panels: d.panels,
  };
}

/** Field defaults of a line chart. */
export function lines(unit: string, extra: Record<string, unknown> = {}): FieldDefaults {
  return {
    unit,
    color: { mode: 'palette-classic' },
    custom: { drawStyle: 'line', lineWidth: 1, fillOpacity: 0, showPoints: 'auto', spanNulls: false, ...extra },
  };
}

/** Field defaults of a bar chart of counts per interval. */
export function bars(unit = 'short'): FieldDefaults {
  return { unit, decimals: 0, min: 0, color: { mode: 'palette-classic' }, custom: { drawStyle: 'bars', fillOpacity: 80, lineWidth: 1, showPoints: 'never' } };
}

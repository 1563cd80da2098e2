import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { DASHBOARD_FILES, DASHBOARDS_DIR, renderDashboard } from '../../../gateway/grafana/generate.js';
import { DATASOURCE, SCHEMA_VERSION, type Dashboard, type Panel } from '../../../gateway/grafana/model.js';

/**
 * The committed dashboards are exactly the generator's output, have the shape Grafana needs to load them, and
 * agree with the provisioning files. What their queries return is proven in test/integration/grafana-dashboards.
 */
const PROVISIONING = 'config/grafana/provisioning';

const ref = z.strictObject({ type: z.literal('influxdb'), uid: z.literal(DATASOURCE.uid) });
const target = z.strictObject({
  refId: z.string().regex(/^[A-Z]$/),
  datasource: ref,
  rawQuery: z.literal(true),
  query: z.string().min(10),
  resultFormat: z.enum(['time_series', 'table']),
  alias: z.string().optional(),
});
const gridPos = z.strictObject({
  h: z.number().int().min(1),
  w: z.number().int().min(1).max(24),
  x: z.number().int().min(0).max(23),
  y: z.number().int().min(0),
});
const panel = z.strictObject({
  id: z.number().int().positive(),
  type: z.enum(['timeseries', 'stat', 'state-timeline']),
  title: z.string().min(1),
  description: z.string().optional(),
  gridPos,
  datasource: ref,
  targets: z.array(target).min(1),
  fieldConfig: z.strictObject({
    defaults: z.record(z.string(), z.unknown()),
    overrides: z.array(
      z.strictObject({
        matcher: z.strictObject({ id: z.enum(['byName', 'byRegexp']), options: z.string() }),
        properties: z.array(z.strictObject({ id: z.string(), value: z.unknown() })),
      }),
    ),
  }),
  options: z.record(z.string(), z.unknown()),
  repeat: z.string().optional(),
  repeatDirection: z.enum(['h', 'v']).optional(),
  maxPerRow: z.number().int().min(1).optional(),
});
const row = z.strictObject({
  id: z.number().int().positive(),
  type: z.literal('row'),
  title: z.string(),
  gridPos,
  collapsed: z.literal(false),
  panels: z.array(z.never()),
  repeat: z.string().optional(),
});
const variable = z.strictObject({
  type: z.literal('query'),
  name: z.string().regex(/^\w+$/),
  label: z.string(),
  datasource: ref,
  query: z.string().startsWith('SHOW TAG VALUES FROM '),
  definition: z.string(),
  refresh: z.union([z.literal(1), z.literal(2)]),
  multi: z.boolean(),
  includeAll: z.boolean(),
  allValue: z.string().optional(),
  current: z.strictObject({ selected: z.boolean(), text: z.array(z.string()), value: z.array(z.string()) }),
  options: z.array(z.never()),
  regex: z.string(),
  sort: z.number().int(),
  hide: z.union([z.literal(0), z.literal(1), z.literal(2)]),
});
const annotation = z.strictObject({
  name: z.string(),
  datasource: z.union([ref, z.strictObject({ type: z.literal('grafana'), uid: z.literal('-- Grafana --') })]),
  enable: z.boolean(),
  hide: z.boolean(),
  iconColor: z.string(),
  builtIn: z.literal(1).optional(),
  type: z.literal('dashboard').optional(),
  query: z.string().includes('$timeFilter').optional(),
  titleColumn: z.string().optional(),
  textColumn: z.string().optional(),
  tagsColumn: z.string().optional(),
});
const dashboardSchema = z.strictObject({
  uid: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/),
  title: z.string().min(1),
  description: z.string(),
  tags: z.array(z.string()),
  timezone: z.enum(['browser', 'utc']),
  schemaVersion: z.literal(SCHEMA_VERSION),
  version: z.number().int(),
  editable: z.boolean(),
  graphTooltip: z.number().int(),
  refresh: z.string(),
  time: z.strictObject({ from: z.string(), to: z.string() }),
  templating: z.strictObject({ list: z.array(variable) }),
  annotations: z.strictObject({ list: z.array(annotation) }),
  panels: z.array(z.union([panel, row])),
});

const committed = DASHBOARD_FILES.map(({ file, dashboard }) => ({ file, generated: dashboard(), text: readFileSync(join(DASHBOARDS_DIR, file), 'utf8') }));
const MACROS = new Set(['timeFilter', 'interval', '__interval', '__interval_ms', 'col']);

function queriesOf(d: Dashboard): string[] {
  return [
    ...d.templating.list.map((v) => v.query),
    ...d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.query)),
    ...d.annotations.list.flatMap((a) => (a.query ? [a.query] : [])),
  ];
}

describe('committed Grafana dashboards', () => {
  it('are exactly what gateway/grafana/generate.ts writes (regenerate with `npx tsx gateway/grafana/generate.ts`)', () => {
    expect(readdirSync(DASHBOARDS_DIR).sort()).toEqual(DASHBOARD_FILES.map((f) => f.file).sort());
    for (const c of committed) expect(c.text, c.file).toBe(renderDashboard(c.generated));
  });

  it.each(committed.map((c) => [c.file, c] as const))('%s has the shape Grafana loads', (_file, c) => {
    const parsed = dashboardSchema.safeParse(JSON.parse(c.text));
    expect(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([]);
  });

  it('have unique uids and, per dashboard, unique panel ids and non-overlapping panels', () => {
    expect(new Set(committed.map((c) => c.generated.uid)).size).toBe(committed.length);
    for (const { generated: d } of committed) {
      expect(new Set(d.panels.map((p) => p.id)).size, d.uid).toBe(d.panels.length);
      const cells = new Set<string>();
      for (const p of d.panels) {
        expect(p.gridPos.x + p.gridPos.w, `${d.uid} ${p.title}`).toBeLessThanOrEqual(24);
        for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
          for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
            expect(cells.has(`${x},${y}`), `${d.uid} "${p.title}" overlaps at ${x},${y}`).toBe(false);
            cells.add(`${x},${y}`);
          }
        }
      }
    }
  });

  it('use only defined variables, and multi-value variables only inside anchored regex literals', () => {
    for (const { generated: d } of committed) {
      const names = new Set(d.templating.list.map((v) => v.name));
      const multi = new Set(d.templating.list.filter((v) => v.multi || v.includeAll).map((v) => v.name));
      const texts = [...queriesOf(d), ...d.panels.flatMap((p: Panel) => [p.title, ...(p.targets ?? []).map((t) => t.alias ?? '')])];
      for (const text of texts) {
        for (const m of text.matchAll(/\$(\w+)/g)) {
          const name = m[1]!;
          if (name.startsWith('tag_')) continue;
          expect(names.has(name) || MACROS.has(name), `${d.uid}: $${name} in ${text}`).toBe(true);
        }
      }
      for (const q of queriesOf(d)) {
        for (const m of q.matchAll(/\$(\w+)/g)) {
          if (!multi.has(m[1]!)) continue;
          // Grafana expands a multi-value variable to (a|b): only `=~ /^$var$/` matches exactly the selection.
          expect(q.slice(m.index - 6, m.index + m[0].length + 2), `${d.uid}: ${q}`).toBe(` =~ /^$${m[1]}$/`);
        }
      }
      for (const p of d.panels) if (p.repeat) expect(multi.has(p.repeat), `${d.uid}: repeat by $${p.repeat}`).toBe(true);
    }
  });
});

describe('Grafana provisioning files', () => {
  const datasources = parse(readFileSync(join(PROVISIONING, 'datasources/influxdb.yaml'), 'utf8')) as {
    apiVersion: number;
    datasources: Record<string, unknown>[];
  };
  const providers = parse(readFileSync(join(PROVISIONING, 'dashboards/gateway.yaml'), 'utf8')) as { apiVersion: number; providers: Record<string, unknown>[] };

  it('provision the InfluxQL data source the dashboards refer to, configured from the environment', () => {
    expect(datasources.apiVersion).toBe(1);
    expect(datasources.datasources).toHaveLength(1);
    const ds = datasources.datasources[0]!;
    expect(ds).toMatchObject({
      uid: DATASOURCE.uid,
      type: DATASOURCE.type,
      access: 'proxy',
      url: '${GATEWAY_INFLUX_URL}',
      database: '${GATEWAY_INFLUX_DB}',
      jsonData: { version: 'InfluxQL', dbName: '${GATEWAY_INFLUX_DB}', httpMode: 'GET', timeInterval: '10s' },
    });
  });

  it('keep timeInterval equal to the default pipeline.interval (one point per window)', async () => {
    const { validateConfig } = await import('../../../gateway/config/load.js');
    const ds = datasources.datasources[0] as { jsonData: { timeInterval: string } };
    const { parseDuration } = await import('../../../gateway/config/units.js');
    expect(parseDuration(ds.jsonData.timeInterval)).toBe(validateConfig({}, 'defaults').pipeline.interval);
  });

  it('load the dashboards folder through a file provider', () => {
    expect(providers.apiVersion).toBe(1);
    expect(providers.providers).toEqual([
      expect.objectContaining({ type: 'file', orgId: 1, options: { path: '${GATEWAY_DASHBOARDS_DIR}', foldersFromFilesStructure: false } }),
    ]);
  });

  it('name only the environment variables docs/grafana.md documents', () => {
    const docs = readFileSync('docs/grafana.md', 'utf8');
    const yaml = ['datasources/influxdb.yaml', 'dashboards/gateway.yaml']
      .map((f) => readFileSync(join(PROVISIONING, f), 'utf8').replace(/^\s*#.*$/gm, ''))
      .join('\n');
    const vars = [...yaml.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!);
    expect(new Set(vars)).toEqual(
      new Set(['GATEWAY_INFLUX_URL', 'GATEWAY_INFLUX_DB', 'GATEWAY_INFLUX_USER', 'GATEWAY_INFLUX_PASSWORD', 'GATEWAY_DASHBOARDS_DIR']),
    );
    for (const v of vars) expect(docs, v).toContain(v);
  });
});

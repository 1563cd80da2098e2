import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { healthDashboard } from './health.js';
import type { Dashboard } from './model.js';
import { sensorsDashboard } from './sensors.js';

/**
 * The dashboards as committed in config/grafana/dashboards/. The JSON files are generated, never edited by hand:
 * `npx tsx gateway/grafana/generate.ts` rewrites them, and a unit test fails when they differ from this output.
 */
export const DASHBOARD_FILES: readonly { readonly file: string; readonly dashboard: () => Dashboard }[] = [
  { file: 'sensors.json', dashboard: () => sensorsDashboard() },
  { file: 'gateway-health.json', dashboard: () => healthDashboard() },
];

export const DASHBOARDS_DIR = 'config/grafana/dashboards';

export function renderDashboard(d: Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}

/** Writes every dashboard into `dir` and returns the paths. */
export function writeDashboards(dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  return DASHBOARD_FILES.map(({ file, dashboard }) => {
    const path = join(dir, file);
    writeFileSync(path, renderDashboard(dashboard()));
    return path;
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // Run from the repository root (relative to it, the default folder is the committed one).
  for (const p of writeDashboards(process.argv[2] ?? DASHBOARDS_DIR)) console.log(`wrote ${p}`);
}

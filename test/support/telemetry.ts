import type { InfluxServer } from './influxd.js';

export interface StoredWindow {
  device: string;
  sensor: string;
  start: number;
  mean: number;
  min: number;
  max: number;
  first: number;
  last: number;
  count: number;
}

/** Every window aggregate InfluxDB holds for a gateway, keyed `device|sensor|start` (start in epoch ms). */
export async function storedWindows(influx: InfluxServer, gatewayId: string, db = 'iot', measurement = 'telemetry'): Promise<Map<string, StoredWindow>> {
  const results = await influx.query(
    `SELECT "mean","min","max","first","last","count" FROM "${measurement}" WHERE "gateway" = '${gatewayId}' GROUP BY "device","sensor"`,
    db,
  );
  const out = new Map<string, StoredWindow>();
  for (const s of results[0]?.series ?? []) {
    const col = (name: string) => s.columns.indexOf(name);
    for (const v of s.values) {
      const start = Date.parse(String(v[col('time')]));
      const w: StoredWindow = {
        device: s.tags!['device']!,
        sensor: s.tags!['sensor']!,
        start,
        mean: v[col('mean')] as number,
        min: v[col('min')] as number,
        max: v[col('max')] as number,
        first: v[col('first')] as number,
        last: v[col('last')] as number,
        count: v[col('count')] as number,
      };
      out.set(`${w.device}|${w.sensor}|${start}`, w);
    }
  }
  return out;
}

/** The aggregate fields a window is compared on (test/unit/pipeline/reference.ts `Aggregate`). */
export interface ExpectedWindow {
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly first: number;
  readonly last: number;
  readonly count: number;
}

/** Every window of `expected` that InfluxDB lacks or holds with other values, and every extra one ([] when exact). */
export function windowMismatches(stored: ReadonlyMap<string, StoredWindow>, expected: ReadonlyMap<string, ExpectedWindow>): string[] {
  const out: string[] = [];
  for (const [key, e] of expected) {
    const got = stored.get(key);
    if (!got) out.push(`${key}: missing (count ${e.count} expected)`);
    else {
      const g = { mean: got.mean, min: got.min, max: got.max, first: got.first, last: got.last, count: got.count };
      const want = { mean: e.mean, min: e.min, max: e.max, first: e.first, last: e.last, count: e.count };
      if (JSON.stringify(g) !== JSON.stringify(want)) out.push(`${key}: got ${JSON.stringify(g)}, expected ${JSON.stringify(want)}`);
    }
  }
  for (const key of stored.keys()) if (!expected.has(key)) out.push(`${key}: not expected`);
  return out;
}

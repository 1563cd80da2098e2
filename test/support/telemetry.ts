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

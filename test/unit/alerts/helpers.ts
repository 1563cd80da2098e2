import type { AlertEngine } from '../../../gateway/alerts/engine.js';
import { parseRules } from '../../../gateway/alerts/rules-parse.js';
import type { AlertEvent, AlertRule } from '../../../gateway/alerts/types.js';
import type { Reading } from '../../../gateway/pipeline/types.js';

/** Rules from YAML text, failing loudly on a parse error so a test never runs with fewer rules than it thinks. */
export function rulesFrom(yaml: string): readonly AlertRule[] {
  const r = parseRules(yaml, 'test');
  if (!r.ok) throw new Error(`test rules invalid: ${JSON.stringify(r.errors)}`);
  return r.rules;
}

export function reading(device: string, sensor: string, ts: number, value: number): Reading {
  return { device, sensor, ts, value };
}

/** One threshold rule on the temperature of the gh-* devices: above 35, hysteresis 1, critical. */
export const HOT = `
rules:
  - name: hot
    match: { device: "gh-*", sensor: temperature }
    above: 35
    hysteresis: 1
    severity: critical
`;

/** Feeds `points` ([ts, value]) of one sensor to `engine`; the events they caused, in order. */
export function feed(engine: AlertEngine, device: string, sensor: string, points: Array<[number, number]>): AlertEvent[] {
  const out: AlertEvent[] = [];
  for (const [ts, v] of points) engine.onReading(reading(device, sensor, ts, v), out);
  return out;
}

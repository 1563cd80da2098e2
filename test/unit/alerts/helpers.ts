import { parseRules } from '../../../gateway/alerts/rules-parse.js';
import type { AlertRule } from '../../../gateway/alerts/types.js';
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

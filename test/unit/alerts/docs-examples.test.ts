import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alertPayload } from '../../../gateway/alerts/publisher.js';
import { parseRules } from '../../../gateway/alerts/rules-parse.js';
import { rulesFileSchema } from '../../../gateway/alerts/rules-schema.js';

/** docs/alerts.md cannot drift: its examples are parsed here, and its key table is checked against the schema. */
const doc = readFileSync(new URL('../../../docs/alerts.md', import.meta.url), 'utf8');

function blocks(lang: string): string[] {
  const out: string[] = [];
  const re = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm');
  for (let m = re.exec(doc); m !== null; m = re.exec(doc)) out.push(m[1]!);
  return out;
}

describe('docs/alerts.md', () => {
  it('every ```yaml block is a valid rules file', () => {
    const yaml = blocks('yaml');
    expect(yaml.length).toBeGreaterThanOrEqual(3);
    for (const text of yaml) {
      const r = parseRules(text);
      expect(r.ok ? [] : r.errors, text).toEqual([]);
    }
  });

  it('every ```json block is JSON, and the MQTT payload example has exactly the published fields', () => {
    const json = blocks('json').map((t) => JSON.parse(t) as Record<string, unknown>);
    expect(json.length).toBeGreaterThanOrEqual(3);
    const payload = json.find((j) => 'since' in j && 'state' in j);
    const published = JSON.parse(
      alertPayload({ device: 'd', sensor: 's', rule: 'r', state: 'firing', severity: 'warning', value: 1, threshold: 0, ts: 2, since: 1 }),
    ) as Record<string, unknown>;
    expect(Object.keys(payload!)).toEqual(Object.keys(published));
  });

  it('the invalid PUT example fails with exactly the errors its comments name', () => {
    const example = blocks('text').find((t) => t.includes('bogus'))!;
    const r = parseRules(example);
    expect(r.ok).toBe(false);
    const errors = r.ok ? [] : r.errors.map(({ path, line, column }) => ({ path, line, column }));
    expect(errors).toEqual([
      { path: 'rules[0].above', line: 3, column: 12 },
      { path: 'rules[1].bogus', line: 5, column: 5 },
      { path: 'rules[2].name', line: 7, column: 11 },
    ]);
    for (const e of errors) expect(example).toContain(`${e.path}, line ${e.line} column ${e.column}`);
  });

  it('the key table documents every key of a rule', () => {
    const rule = rulesFileSchema.shape.rules.element.in;
    const keys = Object.keys(rule.shape).flatMap((k) => (k === 'match' ? ['match.device', 'match.sensor'] : [k]));
    expect(keys.length).toBeGreaterThanOrEqual(9);
    for (const k of keys) expect(doc, k).toContain(`| \`${k}\` |`);
  });
});

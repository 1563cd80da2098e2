import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRules } from '../../../gateway/alerts/rules-parse.js';
import { parseYaml, validateConfig } from '../../../gateway/config/load.js';
import { HOST_EVENTS, REBIRTH_REASONS } from '../../../gateway/sparkplug/host.js';
import { METRIC_SKIPS } from '../../../gateway/sparkplug/metrics.js';

/** docs/sparkplug.md cannot drift: its rules and config snippets are parsed, its metric label lists compared with the code. */
const doc = readFileSync(new URL('../../../docs/sparkplug.md', import.meta.url), 'utf8');

function blocks(lang: string): string[] {
  const out: string[] = [];
  const re = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm');
  for (let m = re.exec(doc); m !== null; m = re.exec(doc)) out.push(m[1]!);
  return out;
}

function labelsIn(metric: string): string[] {
  const row = doc.split('\n').find((l) => l.startsWith(`| \`${metric}\``))!;
  return row
    .split(':')[1]!
    .replace('|', '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

describe('docs/sparkplug.md', () => {
  it('the rules example is a valid rules file and the config example a valid config', () => {
    const [rules, config] = blocks('yaml');
    const r = parseRules(rules!);
    expect(r.ok ? [] : r.errors).toEqual([]);
    const c = validateConfig(parseYaml(config!, 'docs/sparkplug.md'), 'docs/sparkplug.md');
    expect(c.sparkplug).toEqual({ reorderTimeout: 2000, rebirthBackoff: 5000, rebirthBackoffMax: 60_000, hostId: 'gateway-1' });
  });

  it('lists every label value the metrics have', () => {
    expect(labelsIn('gateway_sparkplug_events_total')).toEqual([...HOST_EVENTS]);
    expect(labelsIn('gateway_sparkplug_rebirths_requested_total')).toEqual([...REBIRTH_REASONS]);
    expect(labelsIn('gateway_sparkplug_metrics_skipped_total')).toEqual([...METRIC_SKIPS]);
  });
});

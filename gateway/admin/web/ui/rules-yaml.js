// @ts-check
import { formatDuration } from './util.js';

/**
 * The rules form's model and its YAML text. A draft holds what the operator typed, as text: the gateway
 * validates it (PUT /api/thresholds), so a wrong value reaches the server as written and its error comes
 * back with the path of the field (rules[2].above) instead of being guessed at here.
 *
 * @typedef {'name' | 'device' | 'sensor' | 'kind' | 'above' | 'below' | 'hysteresis' | 'for' | 'noData' | 'severity'} DraftField
 * @typedef {Record<DraftField, string>} RuleDraft
 */

/** Draft fields by the path suffix the gateway reports errors under (rules[i].<suffix>). */
export const FIELD_OF_PATH = /** @type {Record<string, DraftField>} */ ({
  name: 'name',
  'match.device': 'device',
  'match.sensor': 'sensor',
  above: 'above',
  below: 'below',
  hysteresis: 'hysteresis',
  for: 'for',
  noData: 'noData',
  severity: 'severity',
});

/**
 * A rule as GET /api/thresholds returns it (normalised: kind, forMs, noDataMs) -> a draft.
 * @param {any} rule
 * @returns {RuleDraft}
 */
export function draftFromRule(rule) {
  const num = (/** @type {number | null | undefined} */ v) => (v === null || v === undefined ? '' : String(v));
  return {
    name: rule.name,
    device: rule.match.device,
    sensor: rule.match.sensor,
    kind: rule.kind,
    above: num(rule.above),
    below: num(rule.below),
    hysteresis: rule.hysteresis ? String(rule.hysteresis) : '',
    for: rule.forMs ? formatDuration(rule.forMs) : '',
    noData: rule.noDataMs ? formatDuration(rule.noDataMs) : '',
    severity: rule.severity,
  };
}

/** @param {number} n @returns {RuleDraft} */
export function newDraft(n) {
  return { name: `rule-${n}`, device: '*', sensor: '*', kind: 'threshold', above: '', below: '', hysteresis: '', for: '', noData: '', severity: 'warning' };
}

const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** A number as a YAML number; anything else as a quoted string (which the gateway then reports). @param {string} s */
function numberOrString(s) {
  return NUMBER.test(s) ? s : JSON.stringify(s);
}

/** Durations: plain digits are milliseconds, "30s" stays a string. @param {string} s */
function duration(s) {
  return /^\d+$/.test(s) ? s : JSON.stringify(s);
}

/** The comment block above `rules:` in the current file, kept when the form rewrites the list. @param {string} text */
export function headerOf(text) {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => /^rules\s*:/.test(l));
  if (at <= 0) return '';
  const head = lines.slice(0, at);
  // Only comments and blank lines: anything else would be a key the form does not know about.
  return head.every((l) => l.trim() === '' || l.trimStart().startsWith('#')) ? head.join('\n') + '\n' : '';
}

/**
 * The rules file for a list of drafts. Rule i of the list is rules[i] in the file, so error paths map back.
 * @param {RuleDraft[]} drafts
 * @param {string} header
 */
export function rulesToYaml(drafts, header) {
  if (drafts.length === 0) return `${header}rules: []\n`;
  let out = `${header}rules:\n`;
  for (const d of drafts) {
    const t = (/** @type {DraftField} */ f) => d[f].trim();
    out += `  - name: ${JSON.stringify(t('name'))}\n`;
    out += `    match: { device: ${JSON.stringify(t('device'))}, sensor: ${JSON.stringify(t('sensor'))} }\n`;
    if (d.kind === 'noData') {
      if (t('noData') !== '') out += `    noData: ${duration(t('noData'))}\n`;
    } else {
      for (const f of /** @type {const} */ (['above', 'below', 'hysteresis'])) if (t(f) !== '') out += `    ${f}: ${numberOrString(t(f))}\n`;
      if (t('for') !== '') out += `    for: ${duration(t('for'))}\n`;
    }
    out += `    severity: ${JSON.stringify(t('severity'))}\n`;
  }
  return out;
}

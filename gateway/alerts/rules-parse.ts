import type { Document, LineCounter } from 'yaml';
import type { $ZodIssue } from 'zod/v4/core';
import { formatLocatedError, formatPath, locate, parseYamlLocated, position, unknownKeyErrors } from '../config/yaml-locate.js';
import { rulesFileSchema } from './rules-schema.js';
import type { RuleError, RulesResult } from './types.js';

/**
 * Rules text -> validated rules, with every problem located by line and column (see yaml-locate.ts; a key
 * missing from a rule reads "required"). JSON text parses the same way (YAML 1.2 is a superset of JSON),
 * which the admin API relies on.
 */

export { formatPath };

/** `file:line:column: path: message`, or `file: path: message` when the position is unknown. */
export const formatRuleError: (source: string, e: RuleError) => string = formatLocatedError;

function issueToErrors(doc: Document, lc: LineCounter, issue: $ZodIssue): RuleError[] {
  if (issue.code === 'unrecognized_keys') return unknownKeyErrors(doc, lc, issue);
  const { node, exact } = locate(doc, issue.path);
  const message = issue.code === 'invalid_type' && !exact ? 'required' : issue.message;
  return [{ path: formatPath(issue.path), ...position(lc, node), message }];
}

/** Names must be unique; checked on the raw tree so it is reported even when other keys are invalid. */
function duplicateNames(doc: Document, lc: LineCounter, raw: unknown): RuleError[] {
  const rules = (raw as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) return [];
  const first = new Map<string, number>();
  const errors: RuleError[] = [];
  rules.forEach((r, i) => {
    const name = (r as { name?: unknown } | null)?.name;
    if (typeof name !== 'string') return;
    const at = first.get(name);
    if (at === undefined) first.set(name, i);
    else {
      const path = ['rules', i, 'name'];
      errors.push({ path: formatPath(path), ...position(lc, locate(doc, path).node), message: `duplicate rule name "${name}" (first used by rules[${at}])` });
    }
  });
  return errors;
}

function byPosition(a: RuleError, b: RuleError): number {
  return (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);
}

/** Parses and validates rules text. `source` only labels messages; every problem is returned, sorted by position. */
export function parseRules(text: string, _source = '(rules)'): RulesResult {
  const parsed = parseYamlLocated(text);
  if (!parsed.ok) {
    // Every duplicate key, but only the first other syntax error: the parser recovers by guessing, and what
    // follows one missing `}` or bad indent is a cascade about lines that are fine (one `}` gave five to seven).
    const dup = parsed.errors.filter((e) => e.code === 'DUPLICATE_KEY');
    const others = parsed.errors.filter((e) => e.code !== 'DUPLICATE_KEY');
    const more = others.length > 1 ? ' (later syntax errors are not listed: they usually follow from this one)' : '';
    const shown = [...dup, ...others.slice(0, 1)].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
    return {
      ok: false,
      errors: shown.map((e) => ({ path: '(file)', line: e.line, column: e.column, message: `${e.message} (${e.code})${e === others[0] ? more : ''}` })),
    };
  }
  const { doc, lc, value: raw } = parsed;
  if (raw === null || raw === undefined) {
    // An empty file is more likely a half-written one than a wish to drop every alert.
    return { ok: false, errors: [{ path: '(file)', message: 'the file is empty; write `rules: []` to run without alerts' }] };
  }
  const result = rulesFileSchema.safeParse(raw);
  const errors = [...(result.success ? [] : result.error.issues.flatMap((i) => issueToErrors(doc, lc, i))), ...duplicateNames(doc, lc, raw)].sort(byPosition);
  if (errors.length > 0 || !result.success) return { ok: false, errors };
  return { ok: true, rules: deepFreeze(result.data.rules) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

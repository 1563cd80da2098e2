import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { $ZodIssue } from 'zod/v4/core';
import { rulesFileSchema } from './rules-schema.js';
import type { RuleError, RulesResult } from './types.js';

/**
 * Rules text -> validated rules, with every problem located by line and column. The YAML document keeps
 * node ranges, so a schema issue's path (e.g. ['rules', 2, 'above']) is mapped back to the node it names,
 * or to the nearest existing ancestor when the key is missing. JSON text parses the same way (YAML 1.2 is
 * a superset of JSON), which the admin API relies on.
 */

type Path = ReadonlyArray<string | number>;

/** `rules[2].match.device` */
export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(file)' : out;
}

/** `file:line:column: path: message`, or `file: path: message` when the position is unknown. */
export function formatRuleError(source: string, e: RuleError): string {
  const where = e.line !== undefined ? `${source}:${e.line}:${e.column ?? 1}` : source;
  return `${where}: ${e.path}: ${e.message}`;
}

interface Located {
  node: Node | null;
  /** False when the path does not exist and `node` is the deepest existing ancestor. */
  exact: boolean;
  /** For an unknown key: the key node itself, so the error points at the typo. */
  keyNode?: Node | null;
}

/** The node at `path`, or the deepest existing ancestor of it. */
function locate(doc: Document, path: Path, unknownKey?: string): Located {
  let node: Node | null = doc.contents;
  let exact = true;
  for (const seg of path) {
    let next: unknown;
    if (isMap(node)) next = node.get(seg, true);
    else if (isSeq(node) && typeof seg === 'number') next = node.get(seg, true);
    if (next === undefined || next === null || typeof next !== 'object') {
      exact = false;
      break;
    }
    node = next as Node;
  }
  if (unknownKey !== undefined && isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === unknownKey);
    if (pair && pair.key && typeof pair.key === 'object') return { node, exact, keyNode: pair.key as Node };
  }
  return { node, exact };
}

function position(lc: LineCounter, node: Node | null | undefined): { line?: number; column?: number } {
  const offset = node?.range?.[0];
  if (offset === undefined) return {};
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

function issueToErrors(doc: Document, lc: LineCounter, issue: $ZodIssue): RuleError[] {
  if (issue.code === 'unrecognized_keys') {
    // One error per key, located at the key, so an editor can jump to each typo.
    return issue.keys.map((key) => {
      const { node, keyNode } = locate(doc, issue.path as Path, key);
      return { path: formatPath([...(issue.path as Path), key]), ...position(lc, keyNode ?? node), message: 'unknown key' };
    });
  }
  const { node, exact } = locate(doc, issue.path as Path);
  const message = issue.code === 'invalid_type' && !exact ? 'required' : issue.message;
  return [{ path: formatPath(issue.path as Path), ...position(lc, node), message }];
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
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const { line, col } = lc.linePos(e.pos[0]);
        return { path: '(file)', line, column: col, message: `${e.message.split('\n')[0]} (${e.code})` };
      }),
    };
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) {
    // An empty file is more likely a half-written one than a wish to drop every alert.
    return { ok: false, errors: [{ path: '(file)', message: 'the file is empty; write `rules: []` to run without alerts' }] };
  }
  const result = rulesFileSchema.safeParse(raw);
  const errors = [
    ...(result.success ? [] : result.error.issues.flatMap((i) => issueToErrors(doc, lc, i))),
    ...duplicateNames(doc, lc, raw),
  ].sort(byPosition);
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

import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import { parseYamlSafe, type SafeYaml } from './safe-yaml.js';
import type { $ZodIssueUnrecognizedKeys } from 'zod/v4/core';

/**
 * Line and column for the problems of a YAML file validated with a zod schema, shared by the rules file and
 * the devices file. The parsed document keeps node ranges, so an issue's path (e.g. ['rules', 2, 'above']) is
 * mapped back to the node it names, or to the nearest existing ancestor when the key is missing.
 */

export type YamlPath = ReadonlyArray<PropertyKey>;

/** A problem in a file: `path` like `rules[2].match.device`, or `(file)`; position when known. */
export interface LocatedError {
  readonly path: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

/** `rules[2].match.device`; `(file)` for the root. */
export function formatPath(path: YamlPath): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(file)' : out;
}

/** `file:line:column: path: message`, or `file: path: message` when the position is unknown. */
export function formatLocatedError(source: string, e: LocatedError): string {
  const where = e.line !== undefined ? `${source}:${e.line}:${e.column ?? 1}` : source;
  return `${where}: ${e.path}: ${e.message}`;
}

/**
 * Parses with positions kept, within the YAML limits (safe-yaml.ts); duplicate keys are errors. `value` is the
 * document as plain values. Never throws.
 */
export function parseYamlLocated(text: string): SafeYaml {
  return parseYamlSafe(text);
}

/** The node at `path`, or the deepest existing ancestor of it (`exact` false). */
export function locate(doc: Document, path: YamlPath): { node: Node | null; exact: boolean } {
  let node: Node | null = doc.contents;
  for (const seg of path) {
    let next: unknown;
    if (isMap(node)) next = node.get(seg, true);
    else if (isSeq(node) && typeof seg === 'number') next = node.get(seg, true);
    if (next === undefined || next === null || typeof next !== 'object') return { node, exact: false };
    node = next as Node;
  }
  return { node, exact: true };
}

/** `{ line, column }` of a node's start, or `{}` when it has no position. */
export function position(lc: LineCounter, node: Node | null | undefined): { line?: number; column?: number } {
  const offset = node?.range?.[0];
  if (offset === undefined) return {};
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

/** One `unknown key` error per key of an unrecognized_keys issue, located at the key so an editor jumps to the typo. */
export function unknownKeyErrors(doc: Document, lc: LineCounter, issue: $ZodIssueUnrecognizedKeys): LocatedError[] {
  const { node } = locate(doc, issue.path);
  return issue.keys.map((key) => {
    const pair = isMap(node) ? node.items.find((p) => isScalar(p.key) && String(p.key.value) === key) : undefined;
    return { path: formatPath([...issue.path, key]), ...position(lc, pair ? (pair.key as Node) : node), message: 'unknown key' };
  });
}

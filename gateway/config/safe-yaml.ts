import { Composer, isAlias, LineCounter, Parser, visit, type CST, type Document } from 'yaml';

/**
 * The one way the gateway parses YAML it did not write itself: the gateway config, the rules file (and PUT
 * /api/thresholds bodies), the devices file. The `yaml` package composes nodes recursively and expands aliases
 * on demand, so hostile text can exhaust the stack (thousands of nested `[`) or the heap and the CPU (an alias
 * bomb, "billion laughs"). Three bounds, each checked before the step it protects:
 *   - maxBytes: the text's size, before anything else;
 *   - maxDepth: the nesting of collections, measured on the parser's token tree (the lexer and parser of
 *     `yaml` are iterative; only composing recurses), before composing;
 *   - maxAliasCount: alias expansions while converting to plain values (the package's own `maxAliasCount`
 *     of toJS(), which weighs each alias by the aliases inside what it names, so nested bombs count
 *     multiplicatively).
 * Documented in docs/robustness.md ("YAML limits"). Never throws: every problem is a value.
 */

export interface YamlLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
  readonly maxAliasCount: number;
}

/** Generous for any real file: a rules file nests 3 levels, a devices file 4; 1000 aliases is 10x the package default. */
export const YAML_LIMITS: YamlLimits = Object.freeze({ maxBytes: 8 * 1024 * 1024, maxDepth: 64, maxAliasCount: 1000 });

/** Which bound a text exceeded (the admin API and the metrics name it). */
export type YamlLimitReason = 'too_large' | 'too_deep' | 'too_many_aliases';

export interface YamlProblem {
  readonly line?: number;
  readonly column?: number;
  /** One line, no source excerpt. */
  readonly message: string;
  /** The `yaml` package's error code (e.g. BAD_INDENT), or YAML_LIMIT / YAML_ERROR. */
  readonly code: string;
}

export type SafeYaml =
  | { readonly ok: true; readonly doc: Document; readonly lc: LineCounter; readonly value: unknown }
  | { readonly ok: false; readonly errors: readonly YamlProblem[]; readonly limit?: YamlLimitReason };

/** Parses one YAML document (duplicate keys are errors) within `limits`, positions kept. */
export function parseYamlSafe(text: string, limits: Partial<YamlLimits> = {}): SafeYaml {
  const { maxBytes, maxDepth, maxAliasCount } = { ...YAML_LIMITS, ...limits };
  const lc = new LineCounter();
  const at = (offset: number) => {
    const { line, col } = lc.linePos(offset);
    return { line, column: col };
  };
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxBytes) {
    return limit('too_large', { message: `the text is ${bytes} bytes, more than the limit of ${maxBytes} bytes`, code: 'YAML_LIMIT' });
  }
  try {
    const tokens = Array.from(new Parser(lc.addNewLine).parse(text));
    const deep = firstTooDeep(tokens, maxDepth);
    if (deep !== undefined) {
      return limit('too_deep', { ...at(deep), message: `collections nested more than ${maxDepth} levels deep (limit maxDepth)`, code: 'YAML_LIMIT' });
    }
    let doc: Document | undefined;
    for (const d of new Composer({ uniqueKeys: true }).compose(tokens, true, text.length)) {
      if (doc === undefined) {
        doc = d;
        continue;
      }
      return { ok: false, errors: [{ ...at(d.range[0]), message: 'the text holds more than one YAML document', code: 'MULTIPLE_DOCS' }] };
    }
    if (doc === undefined) return { ok: false, errors: [{ message: 'no YAML document', code: 'YAML_ERROR' }] };
    if (doc.errors.length > 0) {
      return { ok: false, errors: doc.errors.map((e) => ({ ...at(e.pos[0]), message: e.message.split('\n')[0]!, code: e.code })) };
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount });
    } catch (err) {
      // toJS throws a ReferenceError for too many expansions, and for an alias whose anchor is not before it.
      const message = (err as Error).message;
      if (/excessive alias count/i.test(message)) {
        return limit('too_many_aliases', {
          ...firstAlias(doc, at),
          message: `aliases expand to more than ${maxAliasCount} nodes (limit maxAliasCount)`,
          code: 'YAML_LIMIT',
        });
      }
      return { ok: false, errors: [{ ...firstAlias(doc, at), message, code: 'YAML_ERROR' }] };
    }
    return { ok: true, doc, lc, value };
  } catch (err) {
    // A bound above was missed (a bug): still a refusal, never a crash.
    const tooDeep = err instanceof RangeError;
    const problem = { message: tooDeep ? 'the text is too deeply nested to parse' : `cannot parse: ${(err as Error).message}`, code: 'YAML_ERROR' };
    return tooDeep ? limit('too_deep', problem) : { ok: false, errors: [problem] };
  }
}

function limit(reason: YamlLimitReason, problem: YamlProblem): SafeYaml {
  return { ok: false, errors: [problem], limit: reason };
}

/** The offset of the first collection deeper than `max`, walking the token tree with an explicit stack. */
function firstTooDeep(tokens: readonly CST.Token[], max: number): number | undefined {
  const stack: Array<{ token: CST.Token; depth: number }> = tokens.map((token) => ({ token, depth: 0 }));
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    switch (token.type) {
      case 'document':
        if (token.value) stack.push({ token: token.value, depth });
        continue;
      case 'block-map':
      case 'block-seq':
      case 'flow-collection': {
        const inner = depth + 1;
        if (inner > max) return token.offset;
        for (const item of token.items) {
          if (item.key) stack.push({ token: item.key, depth: inner });
          if (item.value) stack.push({ token: item.value, depth: inner });
        }
        continue;
      }
      default:
        continue;
    }
  }
  return undefined;
}

function firstAlias(doc: Document, at: (offset: number) => { line: number; column: number }): { line?: number; column?: number } {
  let found: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      if (isAlias(node) && node.range) found = node.range[0];
      return visit.BREAK;
    },
  });
  return found === undefined ? {} : at(found);
}

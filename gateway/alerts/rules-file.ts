import { createHash } from 'node:crypto';
import { writeFileAtomic } from '../config/atomic-write.js';
import { parseRules } from './rules-parse.js';
import type { AlertRule, RuleError, RulesResult } from './types.js';
import { readBoundedText } from '../config/read-bounded.js';

/**
 * The rules file on disk: load, content hash (ETag), atomic replace, and validation of admin-API PUT bodies.
 * The composition root and the admin API call these; the engine never touches files.
 */

export type LoadedRules = RulesResult & { readonly source: string; readonly etag: string | null };

/** Strong ETag (quoted) of the file text, for `If-Match` on PUT /api/thresholds. */
export function rulesETag(text: string): string {
  return `"${createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32)}"`;
}

/** Reads and validates a rules file. An unreadable file is one `(file)` error, never a throw. */
export function loadRulesFile(path: string): LoadedRules {
  let text: string;
  try {
    text = readBoundedText(path);
  } catch (err) {
    return { ok: false, source: path, etag: null, errors: [{ path: '(file)', message: `cannot read: ${(err as Error).message}` }] };
  }
  return { ...parseRules(text, path), source: path, etag: rulesETag(text) };
}

/** Writes the rules file atomically (see writeFileAtomic); a new file is world-readable like any config. */
export function writeRulesFileAtomic(path: string, text: string): Promise<void> {
  return writeFileAtomic(path, text, { newFileMode: 0o644 });
}

export type BodyResult =
  | {
      readonly ok: true;
      readonly rules: readonly AlertRule[];
      /** What to write to the rules file: YAML bodies verbatim (comments kept), JSON bodies as given. */
      readonly fileText: string;
      /** rulesETag(fileText): the ETag the file will have once written. */
      readonly etag: string;
    }
  | {
      readonly ok: false;
      readonly errors: readonly RuleError[];
    };

/** The two forms a rules text may come in: YAML (what the file holds) and strict JSON (a subset of YAML). */
export type RulesFormat = 'yaml' | 'json';

const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain']);

/** The format a media type (a Content-Type header: parameters like `; charset=utf-8` ignored) names, if any; absent means YAML. */
export function rulesFormatOf(contentType: string | undefined): RulesFormat | undefined {
  const type = (contentType ?? 'application/yaml').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  return YAML_TYPES.has(type) ? 'yaml' : undefined;
}

/**
 * Validates a new rules text. JSON must be strict JSON; it is stored as sent, since JSON is valid YAML and the
 * file then round-trips through the same parser with line/column errors.
 */
export function validateRulesText(text: string, format: RulesFormat): BodyResult {
  if (format === 'json') {
    try {
      JSON.parse(text);
    } catch (err) {
      return { ok: false, errors: [{ path: '(file)', ...jsonErrorPosition(text, err as Error), message: (err as Error).message }] };
    }
  }
  const parsed = parseRules(text, '(body)');
  if (!parsed.ok) return { ok: false, errors: parsed.errors };
  return { ok: true, rules: parsed.rules, fileText: text, etag: rulesETag(text) };
}

/** V8's JSON.parse messages carry "at position N" (Node 20) or "(line L column C)" (Node 22). */
function jsonErrorPosition(text: string, err: Error): { line?: number; column?: number } {
  const lc = /line (\d+) column (\d+)/.exec(err.message);
  if (lc) return { line: Number(lc[1]), column: Number(lc[2]) };
  const pos = /position (\d+)/.exec(err.message);
  if (!pos) return {};
  const before = text.slice(0, Number(pos[1]));
  const line = before.split('\n').length;
  return { line, column: before.length - before.lastIndexOf('\n') };
}

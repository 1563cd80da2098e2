import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadRulesFile, rulesETag, rulesFormatOf, validateRulesText, writeRulesFileAtomic } from '../../../gateway/alerts/rules-file.js';
import { parseRules } from '../../../gateway/alerts/rules-parse.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'alerts-file-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('shipped config/thresholds.yaml', () => {
  const text = readFileSync('config/thresholds.yaml', 'utf8');

  it('parses, with the rules it documents', () => {
    const r = loadRulesFile('config/thresholds.yaml');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.rules.map((x) => `${x.name}:${x.kind}`)).toEqual(['greenhouse-hot:threshold', 'sensor-silent:noData']);
  });

  it('its commented examples are valid too once uncommented', () => {
    const lines = text.split('\n');
    const begin = lines.findIndex((l) => l.includes('BEGIN EXAMPLES'));
    const end = lines.findIndex((l) => l.includes('END EXAMPLES'));
    expect(begin).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(begin);
    const uncommented = lines.map((l, i) => (i > begin && i < end ? l.replace(/^(\s*)# ?/, '$1') : l)).join('\n');
    const r = parseRules(uncommented, 'examples');
    expect(r.ok ? r.rules.map((x) => x.name) : r.errors).toEqual([
      'greenhouse-hot',
      'sensor-silent',
      'greenhouse-frost',
      'soil-moisture-band',
      'battery-low',
      'any-sensor-silent-1h',
    ]);
  });
});

describe('loadRulesFile', () => {
  it('returns the rules and the ETag of the text', () => {
    const p = join(dir, 'r.yaml');
    writeFileSync(p, 'rules: [{ name: a, above: 1 }]\n');
    const r = loadRulesFile(p);
    expect(r).toMatchObject({ ok: true, source: p, etag: rulesETag('rules: [{ name: a, above: 1 }]\n') });
  });

  it('reports an unreadable file as one (file) error instead of throwing', () => {
    const r = loadRulesFile(join(dir, 'missing.yaml'));
    expect(r).toMatchObject({ ok: false, etag: null, errors: [{ path: '(file)', message: expect.stringContaining('ENOENT') }] });
  });
});

describe('rulesETag', () => {
  it('is a quoted strong ETag that changes with the text', () => {
    expect(rulesETag('a')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(rulesETag('a')).toBe(rulesETag('a'));
    expect(rulesETag('a')).not.toBe(rulesETag('b'));
  });
});

describe('writeRulesFileAtomic', () => {
  it('replaces the file, keeps its mode and leaves no temp file behind', async () => {
    const p = join(dir, 'thresholds.yaml');
    writeFileSync(p, 'rules: []\n');
    chmodSync(p, 0o640);
    await writeRulesFileAtomic(p, 'rules: [{ name: a, above: 1 }]\n');
    expect(readFileSync(p, 'utf8')).toBe('rules: [{ name: a, above: 1 }]\n');
    expect(statSync(p).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(['thresholds.yaml']);
  });

  it('creates a missing file and fails (cleaning up) when the directory does not exist', async () => {
    const p = join(dir, 'new.yaml');
    await writeRulesFileAtomic(p, 'rules: []\n');
    expect(readFileSync(p, 'utf8')).toBe('rules: []\n');
    await expect(writeRulesFileAtomic(join(dir, 'nope', 'x.yaml'), 'rules: []\n')).rejects.toThrow(/ENOENT/);
    expect(readdirSync(dir)).toEqual(['new.yaml']);
  });
});

describe('rulesFormatOf + validateRulesText', () => {
  it('accepts YAML (comments kept) and JSON, returning the text to write and its ETag', () => {
    const yaml = '# mine\nrules: [{ name: a, above: 1 }]\n';
    expect(rulesFormatOf('application/yaml; charset=utf-8')).toBe('yaml');
    expect(rulesFormatOf(undefined)).toBe('yaml');
    expect(validateRulesText(yaml, 'yaml')).toMatchObject({ ok: true, fileText: yaml, etag: rulesETag(yaml) });
    const json = '{"rules":[{"name":"a","below":3}]}';
    expect(rulesFormatOf('application/json')).toBe('json');
    const r = validateRulesText(json, 'json');
    expect(r).toMatchObject({ ok: true, fileText: json, etag: rulesETag(json) });
    if (r.ok) expect(r.rules[0]).toMatchObject({ name: 'a', below: 3 });
  });

  it('returns schema errors with paths and positions', () => {
    const r = validateRulesText('{\n  "rules": [\n    {"name": "a", "abov": 1}\n  ]\n}', 'json');
    expect(r).toMatchObject({
      ok: false,
      errors: [
        { path: 'rules[0]', line: 3, message: expect.stringContaining('at least one of') },
        { path: 'rules[0].abov', line: 3, column: 19, message: 'unknown key' },
      ],
    });
  });

  it('rejects JSON that is only valid as YAML, with the position of the syntax error', () => {
    const r = validateRulesText('{\n  rules: []\n}', 'json');
    expect(r).toMatchObject({ ok: false, errors: [{ path: '(file)', line: 2, column: 3 }] });
  });

  it('names no format for other content types', () => {
    expect(rulesFormatOf('text/html')).toBeUndefined();
    expect(rulesFormatOf('application/vnd.api+json')).toBe('json');
  });
});

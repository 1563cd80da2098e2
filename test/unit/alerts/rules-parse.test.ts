import { describe, expect, it } from 'vitest';
import { formatRuleError, parseRules } from '../../../gateway/alerts/rules-parse.js';
import type { RuleError } from '../../../gateway/alerts/types.js';

function errorsOf(text: string): RuleError[] {
  const r = parseRules(text, 't.yaml');
  if (r.ok) throw new Error('expected errors');
  return [...r.errors];
}

/** A first rule that anchors its match, then `n` rules that reuse it (`match: *m`). */
const SHARED = (n: number) =>
  'rules:\n  - { name: first, match: &m { device: "gh-*", sensor: temperature }, above: 30 }\n' +
  Array.from({ length: n }, (_, i) => `  - { name: r${i}, match: *m, above: 30 }`).join('\n') +
  '\n';

describe('parseRules', () => {
  it('normalises a valid file: defaults, durations in ms, one kind per rule', () => {
    const r = parseRules(
      `
rules:
  - name: greenhouse-hot
    match: { device: "greenhouse-*", sensor: temperature }
    above: 35
    hysteresis: 1
    for: 30s
    severity: critical
  - name: sensor-silent
    match: { device: "greenhouse-*" }
    noData: 5m
  - name: cold
    below: -5
`,
      't.yaml',
    );
    expect(r).toEqual({
      ok: true,
      rules: [
        {
          kind: 'threshold',
          name: 'greenhouse-hot',
          match: { device: 'greenhouse-*', sensor: 'temperature' },
          severity: 'critical',
          above: 35,
          below: null,
          hysteresis: 1,
          forMs: 30_000,
        },
        { kind: 'noData', name: 'sensor-silent', match: { device: 'greenhouse-*', sensor: '*' }, severity: 'warning', noDataMs: 300_000 },
        { kind: 'threshold', name: 'cold', match: { device: '*', sensor: '*' }, severity: 'warning', above: null, below: -5, hysteresis: 0, forMs: 0 },
      ],
    });
    if (r.ok) expect(Object.isFrozen(r.rules[0]!.match)).toBe(true);
  });

  it('accepts an explicitly empty rule list and JSON text', () => {
    expect(parseRules('rules: []\n')).toEqual({ ok: true, rules: [] });
    const r = parseRules('{"rules": [{"name": "x", "above": 1, "for": 1500}]}');
    expect(r.ok && r.rules[0]).toMatchObject({ name: 'x', forMs: 1500 });
  });

  it('reports every error of every rule, each with path, line and column, sorted by position', () => {
    const text = [
      'rules:', //                                   1
      '  - name: a', //                              2
      '    match: { device: "g-*", sensr: temp }', // 3
      '    above: 35', //                            4
      '    hysteresis: -1', //                       5
      '  - name: a', //                              6
      '    below: cold', //                          7
      '    colour: red', //                          8
      '  - name: "bad name"', //                     9
      '    above: 1', //                             10
      '    noData: 5m', //                           11
      '  - severity: loud', //                       12
      '    for: soon', //                            13
      '  - name: lonely', //                         14
      '    hysteresis: 1', //                        15
    ].join('\n');
    expect(errorsOf(text)).toEqual([
      { path: 'rules[0].match.sensr', line: 3, column: 29, message: 'unknown key' },
      { path: 'rules[0].hysteresis', line: 5, column: 17, message: expect.stringMatching(/>=\s?0/) },
      { path: 'rules[1].name', line: 6, column: 11, message: 'duplicate rule name "a" (first used by rules[0])' },
      { path: 'rules[1].below', line: 7, column: 12, message: expect.stringContaining('expected number') },
      { path: 'rules[1].colour', line: 8, column: 5, message: 'unknown key' },
      { path: 'rules[2].name', line: 9, column: 11, message: 'must match ^[A-Za-z0-9_.-]{1,64}$' },
      { path: 'rules[2].noData', line: 11, column: 13, message: expect.stringContaining('either a threshold rule') },
      // A missing key points at the rule it is missing from.
      { path: 'rules[3].name', line: 12, column: 5, message: 'required' },
      { path: 'rules[3].severity', line: 12, column: 15, message: expect.stringContaining('info') },
      { path: 'rules[3].for', line: 13, column: 10, message: expect.stringContaining('not a duration: "soon"') },
      { path: 'rules[4]', line: 14, column: 5, message: 'a rule needs at least one of above, below or noData' },
      { path: 'rules[4].hysteresis', line: 15, column: 17, message: 'hysteresis applies only to above/below' },
    ]);
  });

  it('rejects for/hysteresis on noData rules and a band that could never resolve', () => {
    expect(errorsOf('rules: [{ name: n, noData: 1m, for: 5s }]')).toMatchObject([{ path: 'rules[0].for', message: 'for applies only to above/below' }]);
    expect(errorsOf('rules: [{ name: b, above: 10, below: 20 }]')).toMatchObject([{ path: 'rules[0].below', message: 'must not be greater than above (10)' }]);
    expect(errorsOf('rules: [{ name: b, above: 10, below: 5, hysteresis: 3 }]')).toMatchObject([
      { path: 'rules[0].below', message: expect.stringContaining('could never resolve') },
    ]);
    expect(errorsOf('rules: [{ name: z, noData: 0 }]')).toMatchObject([{ path: 'rules[0].noData', message: 'must be at least 1ms' }]);
    expect(errorsOf('rules: [{ name: g, match: { device: "" }, above: 1 }]')).toMatchObject([{ path: 'rules[0].match.device' }]);
  });

  it('reports every duplicate name, not only the first', () => {
    expect(errorsOf('rules:\n  - { name: x, above: 1 }\n  - { name: x, above: 2 }\n  - { name: x, above: 3 }\n').map((e) => [e.path, e.line])).toEqual([
      ['rules[1].name', 3],
      ['rules[2].name', 4],
    ]);
  });

  it('reports unknown and missing top-level keys, and an empty file', () => {
    expect(errorsOf('rulez: []\n')).toEqual([
      { path: 'rules', line: 1, column: 1, message: 'required' },
      { path: 'rulez', line: 1, column: 1, message: 'unknown key' },
    ]);
    expect(errorsOf('\n# nothing here\n')).toEqual([{ path: '(file)', message: expect.stringContaining('rules: []') }]);
    expect(errorsOf('- a\n- b\n')).toMatchObject([{ path: '(file)', message: expect.stringContaining('expected object') }]);
  });

  it('reports YAML syntax errors with their position: every duplicate key, and the first other error', () => {
    const errors = errorsOf('rules:\n  - name: a\n    above: 1\n    above: 2\n  - name: [b\n');
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.every((e) => e.path === '(file)' && typeof e.line === 'number' && typeof e.column === 'number')).toBe(true);
    expect(errors[0]).toMatchObject({ line: 4, column: 5, message: expect.stringContaining('DUPLICATE_KEY') });
  });

  it('formats errors as file:line:column: path: message', () => {
    expect(formatRuleError('t.yaml', { path: 'rules[0].above', line: 3, column: 12, message: 'bad' })).toBe('t.yaml:3:12: rules[0].above: bad');
    expect(formatRuleError('t.yaml', { path: '(file)', message: 'empty' })).toBe('t.yaml: (file): empty');
  });

  it('loads 101 rules sharing one anchored match (more than the yaml package default of 100 aliases)', () => {
    const r = parseRules(SHARED(101), 't.yaml');
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.rules.map((x) => x.match)).toEqual(Array(102).fill({ device: 'gh-*', sensor: 'temperature' }));
  });

  it('reports alias expansion beyond the limit and deep nesting as located errors, never a throw', () => {
    const aliases = errorsOf(SHARED(1000));
    expect(aliases).toEqual([{ path: '(file)', line: 3, column: 24, message: 'aliases expand to more than 1000 nodes (limit maxAliasCount) (YAML_LIMIT)' }]);
    const deep = errorsOf('rules: ' + '['.repeat(5000) + ']'.repeat(5000));
    expect(deep).toHaveLength(1);
    expect(deep[0]!.message).toContain('nested more than 64 levels');
  });
});

describe('parseRules: syntax errors', () => {
  it('reports one error for one missing }, not the cascade the parser recovers into', () => {
    const text =
      'rules:\n  - name: a\n    match: { device: "gh-*", sensor: temperature\n    above: 30\n  - name: b\n    match: { device: "x", sensor: y }\n    above: 1\n';
    const r = parseRules(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ path: '(file)', line: 4 });
    expect(r.errors[0]!.message).toMatch(/end with a \}.*later syntax errors are not listed/);
  });
});

import { describe, expect, it } from 'vitest';
import { parseYamlSafe, YAML_LIMITS } from '../../../gateway/config/safe-yaml.js';

/** Hostile YAML: each is refused as a value (never a throw), naming the bound it crosses. */
export const HOSTILE_YAML = {
  deepFlowSeq: 'rules: ' + '['.repeat(5000) + ']'.repeat(5000),
  deepFlowMap: 'rules: ' + '{a: '.repeat(5000) + '1' + '}'.repeat(5000),
  unclosedFlow: 'rules: ' + '['.repeat(20_000),
  deepBlock: Array.from({ length: 2000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n',
  deepCompactSeq: 'rules:\n' + '- '.repeat(3000) + 'x\n',
  billionLaughs: [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ...Array.from(
      { length: 8 },
      (_, i) =>
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
          .fill('*' + String.fromCharCode(97 + i))
          .join(',')}]`,
    ),
    'rules: *i',
  ].join('\n'),
};

describe('parseYamlSafe', () => {
  it('parses ordinary YAML to plain values with positions kept', () => {
    const r = parseYamlSafe('rules:\n  - name: a\n    match: { device: "gh-*" }\n');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toEqual({ rules: [{ name: 'a', match: { device: 'gh-*' } }] });
    expect(r.lc.linePos(10).line).toBe(2);
  });

  it.each(['deepFlowSeq', 'deepFlowMap', 'unclosedFlow', 'deepBlock', 'deepCompactSeq'] as const)(
    'refuses %s as too deep, with a position, every time',
    (name) => {
      for (let i = 0; i < 5; i++) {
        const r = parseYamlSafe(HOSTILE_YAML[name]);
        expect(r.ok).toBe(false);
        if (r.ok) return;
        expect(r.limit).toBe('too_deep');
        expect(r.errors[0]!.message).toContain(`more than ${YAML_LIMITS.maxDepth} levels`);
        expect(r.errors[0]!.line).toBeGreaterThanOrEqual(1);
      }
    },
  );

  it('accepts nesting up to maxDepth and refuses one more', () => {
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    expect(parseYamlSafe(nest(YAML_LIMITS.maxDepth)).ok).toBe(true);
    const r = parseYamlSafe(nest(YAML_LIMITS.maxDepth + 1));
    expect(r.ok || r.limit).toBe('too_deep');
  });

  it('refuses an alias bomb (billion laughs) by its expansions, located at the first alias', () => {
    const r = parseYamlSafe(HOSTILE_YAML.billionLaughs);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.limit).toBe('too_many_aliases');
    expect(r.errors[0]).toMatchObject({ line: 2, code: 'YAML_LIMIT' });
    expect(r.errors[0]!.message).toContain('maxAliasCount');
  });

  it('accepts legitimate alias use within maxAliasCount (101 rules sharing one match) and refuses beyond it', () => {
    const rules = (n: number) =>
      'm: &m { device: "*", sensor: "*" }\nrules:\n' + Array.from({ length: n }, (_, i) => `  - { name: r${i}, match: *m }`).join('\n') + '\n';
    const ok = parseYamlSafe(rules(101));
    expect(ok.ok).toBe(true);
    if (ok.ok) expect((ok.value as { rules: unknown[] }).rules).toHaveLength(101);
    // The package counts the anchored node itself as one expansion.
    expect(parseYamlSafe(rules(YAML_LIMITS.maxAliasCount - 1)).ok).toBe(true);
    const over = parseYamlSafe(rules(YAML_LIMITS.maxAliasCount));
    expect(over.ok || over.limit).toBe('too_many_aliases');
  });

  it('refuses text over maxBytes before parsing it', () => {
    const r = parseYamlSafe('x'.repeat(1000), { maxBytes: 999 });
    expect(r.ok || r.limit).toBe('too_large');
  });

  it('reports syntax errors, an undefined alias and a second document as errors, not throws', () => {
    for (const text of ['a: [1, 2', 'a: *nope', 'a: 1\n---\nb: 2\n', 'a: 1\na: 2\n', '- [a\n- b: c\n  - d']) {
      const r = parseYamlSafe(text);
      expect(r.ok, JSON.stringify(text)).toBe(false);
      if (!r.ok) expect(r.errors.length).toBeGreaterThan(0);
    }
  });
});

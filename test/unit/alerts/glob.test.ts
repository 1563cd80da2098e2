import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob, wildcardMatch } from '../../../gateway/alerts/glob.js';

/** Reference: the textbook dynamic programme over code points (dp[i][j]: glob[0..i) matches name[0..j)). */
function reference(glob: string, name: string): boolean {
  const p = Array.from(glob);
  const s = Array.from(name);
  let prev = new Array<boolean>(s.length + 1).fill(false);
  prev[0] = true;
  for (let i = 1; i <= p.length; i++) {
    const cur = new Array<boolean>(s.length + 1).fill(false);
    cur[0] = prev[0]! && p[i - 1] === '*';
    for (let j = 1; j <= s.length; j++) {
      const c = p[i - 1];
      cur[j] = c === '*' ? cur[j - 1]! || prev[j]! : prev[j - 1]! && (c === '?' || c === s[j - 1]);
    }
    prev = cur;
  }
  return prev[s.length]!;
}

/** The former implementation (a backtracking regular expression): a second reference, on small inputs only. */
function regexGlob(glob: string): (s: string) => boolean {
  let src = '^';
  for (const ch of glob) src += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  const re = new RegExp(src + '$', 'su');
  return (s) => re.test(s);
}

const steps = (glob: string, name: string) => {
  const stats = { steps: 0 };
  const matched = wildcardMatch(Array.from(glob), Array.from(name), stats);
  return { matched, steps: stats.steps };
};

describe('compileGlob', () => {
  it('matches * (any run, none included), ? (one code point) and literals, anchored at both ends', () => {
    const cases: Array<[string, string, boolean]> = [
      ['*', '', true],
      ['gh-*', 'gh-1', true],
      ['gh-*', 'xgh-1', false],
      ['*-1', 'gh-1', true],
      ['t?mp', 'temp', true],
      ['t?mp', 'tmp', false],
      ['?', '😀', true],
      ['??', '😀', false],
      ['a*b*c', 'aXbYc', true],
      ['a*b*c', 'aXbY', false],
      ['a.b', 'aXb', false],
      ['[x]', '[x]', true],
      ['*\n*', 'a\nb', true],
      ['', '', true],
      ['', 'a', false],
    ];
    for (const [glob, name, want] of cases) expect(compileGlob(glob)(name), `${glob} ~ ${name}`).toBe(want);
  });

  it('decides adversarial globs correctly and within (glob + 1) x (name + 1) steps', () => {
    const cases: Array<[string, string]> = [
      ['*a*a*a*a*a*a*a*b', 'a'.repeat(64)],
      ['*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(256)],
      ['*' + 'a*'.repeat(120) + 'b', 'a'.repeat(4096)],
      ['*?*?*?*?*?*?*?*?*?*?*b', 'a'.repeat(1000)],
      ['a*'.repeat(100) + 'a', 'a'.repeat(300)],
      ['*aaaaaaaaaaaaaaaaaaaab', 'a'.repeat(10_000)],
    ];
    for (const [glob, name] of cases) {
      const { matched, steps: n } = steps(glob, name);
      expect(matched, glob).toBe(reference(glob, name));
      expect(n, glob).toBeLessThanOrEqual((Array.from(glob).length + 1) * (Array.from(name).length + 1));
    }
    // The last one would match with one more b: the answer is exact, not just fast.
    expect(compileGlob('*' + 'a*'.repeat(120) + 'b')('a'.repeat(4096) + 'b')).toBe(true);
  });

  it('equals the reference on small globs and names (property)', () => {
    const alphabet = fc.constantFrom('*', '?', 'a', 'b', '.', '\\', '😀', '\n');
    const text = fc.array(alphabet, { maxLength: 10 }).map((cs) => cs.join(''));
    const name = fc.array(fc.constantFrom('a', 'b', '.', '\\', '*', '?', '😀', '\n'), { maxLength: 14 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(text, fc.array(name, { maxLength: 8 }), (glob, names) => {
        const m = compileGlob(glob);
        const old = regexGlob(glob);
        for (const s of names) {
          expect(m(s)).toBe(reference(glob, s));
          expect(m(s)).toBe(old(s));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

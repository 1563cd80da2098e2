import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGlob as serverGlob } from '../../../gateway/alerts/glob.js';

// The operator page's copy: browser code cannot import the server's TS module, so this test keeps them equal.
// A computed specifier, because the page's JS has no declaration file (it is type-checked by its own tsconfig).
const UI_UTIL = '../../../gateway/admin/web/ui/util.js';
const { compileGlob: pageGlob } = (await import(UI_UTIL)) as { compileGlob: (glob: string) => (s: string) => boolean };

describe('the operator page glob', () => {
  it('matches exactly what the gateway glob matches, for every non-empty glob the rules schema admits', () => {
    const alphabet = fc.constantFrom('*', '?', 'a', 'b', '.', '-', '_', '[', '\\', '$', 'é', '😀');
    const text = fc.array(alphabet, { maxLength: 8 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(
        text.filter((g) => g.length > 0),
        fc.array(text, { maxLength: 10 }),
        (glob, inputs) => {
          const server = serverGlob(glob);
          const page = pageGlob(glob);
          for (const s of inputs) expect(page(s)).toBe(server(s));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('decides adversarial globs like the gateway (both are linear: no backtracking regular expression)', () => {
    const cases: Array<[string, string]> = [
      ['*a*a*a*a*a*a*a*b', 'a'.repeat(64)],
      ['*' + 'a*'.repeat(60) + 'b', 'a'.repeat(2000)],
      ['*' + 'a*'.repeat(60) + 'b', 'a'.repeat(2000) + 'b'],
    ];
    for (const [glob, name] of cases) expect(pageGlob(glob)(name), glob).toBe(serverGlob(glob)(name));
    expect(pageGlob(cases[2]![0])(cases[2]![1])).toBe(true);
  });
});

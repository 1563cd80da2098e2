/**
 * Device/sensor globs: `*` matches any run of characters (including none), `?` exactly one; every other
 * character is literal. Characters are Unicode code points (a `?` matches one emoji, as a `u` regex would).
 * Compiled once per rule; only called when a (device, sensor) key is first seen, and by the rule preview.
 *
 * Matching is the two-pointer wildcard match with backtracking to the last `*` only: when a later `*` is
 * reached, no earlier `*` ever needs to take more characters (the later one can absorb them), so the work is at
 * most (glob length + 1) x (name length + 1) steps, whatever the glob. A backtracking regular expression
 * (`^.*a.*a.*b$`) is exponential in the number of stars instead: a device could stall the event loop for
 * seconds by sending one sensor name. The operator page has a copy of this function (web/ui/util.js), held
 * equal by test/unit/admin/ui-glob-parity.test.ts.
 */
export type Matcher = (s: string) => boolean;

const matchAll: Matcher = () => true;

export function compileGlob(glob: string): Matcher {
  if (glob === '*') return matchAll;
  if (!glob.includes('*') && !glob.includes('?')) return (s) => s === glob;
  const pattern = Array.from(glob);
  return (s) => wildcardMatch(pattern, Array.from(s));
}

/**
 * `pattern` and `name` as arrays of code points. O(pattern x name) worst case, O(pattern + name) typically.
 * `stats.steps` receives the number of steps taken (tests check the bound with it; no clock involved).
 */
export function wildcardMatch(pattern: readonly string[], name: readonly string[], stats?: { steps: number }): boolean {
  let p = 0;
  let n = 0;
  let star = -1; // index of the last `*` seen in the pattern
  let resume = 0; // where in the name that `*` stopped absorbing
  let steps = 0;
  while (n < name.length) {
    steps++;
    const c = pattern[p];
    if (c !== undefined && c !== '*' && (c === '?' || c === name[n])) {
      p++;
      n++;
    } else if (c === '*') {
      star = p++;
      resume = n;
    } else if (star >= 0) {
      // Mismatch after a `*`: let it absorb one more character and retry the rest of the pattern from there.
      p = star + 1;
      n = ++resume;
    } else {
      if (stats) stats.steps = steps;
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  if (stats) stats.steps = steps + p;
  return p === pattern.length;
}

/**
 * Device/sensor globs: `*` matches any run of characters (including none), `?` exactly one; every other
 * character is literal. Compiled once per rule; only called when a (device, sensor) key is first seen.
 */
export type Matcher = (s: string) => boolean;

const matchAll: Matcher = () => true;

export function compileGlob(glob: string): Matcher {
  if (glob === '*') return matchAll;
  if (!glob.includes('*') && !glob.includes('?')) return (s) => s === glob;
  let src = '^';
  for (const ch of glob) {
    if (ch === '*') src += '.*';
    else if (ch === '?') src += '.';
    else src += ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  const re = new RegExp(src + '$', 'su');
  return (s) => re.test(s);
}

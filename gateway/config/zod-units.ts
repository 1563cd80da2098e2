import { z } from 'zod';
import { parseDuration, parseSize } from './units.js';

/**
 * Zod fields for human units (see units.ts), shared by the gateway config and the rules file: a string like
 * `30s` / `256KiB` or a bare number (ms / bytes) becomes a number, with at least `min`; anything else is an
 * issue at the key, naming the value and an example.
 */
function measured(parse: (v: string | number) => number | undefined, what: string, examples: string, unit: string) {
  return (min = 0) =>
    z.union([z.string(), z.number()]).transform((v, ctx) => {
      const n = parse(v);
      if (n === undefined) {
        ctx.addIssue({ code: 'custom', message: `not a ${what}: ${JSON.stringify(v)} (use e.g. ${examples})` });
        return z.NEVER;
      }
      if (n < min) {
        ctx.addIssue({ code: 'custom', message: `must be at least ${min}${unit}` });
        return z.NEVER;
      }
      return n;
    });
}

/** Milliseconds. */
export const duration = measured(parseDuration, 'duration', '500ms, 30s, 5m, 1h', 'ms');
/** Bytes. */
export const size = measured(parseSize, 'size', '256KiB, 1GiB', ' bytes');

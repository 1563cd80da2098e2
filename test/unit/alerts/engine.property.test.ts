import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../gateway/alerts/engine.js';
import type { AlertEvent } from '../../../gateway/alerts/types.js';
import { reading, rulesFrom } from './helpers.js';

/** Reference model of a threshold alert with hysteresis and `for`, written as plainly as possible. */
function model(values: Array<[number, number]>, above: number, h: number, forMs: number): string[] {
  const out: string[] = [];
  let state: 'ok' | 'pending' | 'firing' = 'ok';
  let since = 0;
  for (const [ts, v] of values) {
    if (state === 'firing') {
      if (v <= above - h) {
        state = 'ok';
        out.push(`resolved@${ts}`);
      }
    } else if (v > above) {
      if (state === 'ok') since = ts;
      state = 'pending';
      if (ts - since >= forMs) {
        state = 'firing';
        out.push(`firing@${ts}since${since}`);
      }
    } else state = 'ok';
  }
  return out;
}

describe('threshold alert matches a reference model', () => {
  it('for random in-order readings with interleaved late ones', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 0, max: 20 }), fc.boolean()), { maxLength: 60 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(0, 1_000, 10_000),
        (steps, h, forMs) => {
          const e = new AlertEngine(rulesFrom(`rules: [{ name: r, above: 10, hysteresis: ${h}, for: ${forMs} }]`));
          const inOrder: Array<[number, number]> = [];
          const events: AlertEvent[] = [];
          let ts = 0;
          for (const [dt, v, late] of steps) {
            if (late && ts > 0) {
              e.onReading(reading('d', 's', ts - 1, v), events); // must change nothing
              continue;
            }
            ts += dt;
            inOrder.push([ts, v]);
            e.onReading(reading('d', 's', ts, v), events);
          }
          const got = events.map((x) => (x.state === 'firing' ? `firing@${x.ts}since${x.since}` : `resolved@${x.ts}`));
          expect(got).toEqual(model(inOrder, 10, h, forMs));
        },
      ),
      { numRuns: 300 },
    );
  });
});

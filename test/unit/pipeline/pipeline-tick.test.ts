import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pipeline } from '../../../gateway/pipeline/pipeline.js';
import type { DeviceMessage, WindowPoint } from '../../../gateway/pipeline/types.js';

/**
 * `tick` skips its walk over the pending sensors while the clock is before the earliest close it knows of
 * (Pipeline.nextClose). Against a pipeline made to walk at every tick, it closes exactly the same windows at
 * exactly the same ticks: for any readings, arrival clocks that go back as well as on, and ticks at any time (on a
 * 250 ms grid, as the windows' ends, arrivals and lateness are, so that ticks fall on a close exactly).
 */
const T = 1_700_000_000_000;
const INTERVAL = 1000;

type Op = { kind: 'msg'; msg: DeviceMessage; dt: number } | { kind: 'tick'; dt: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .record({
        device: fc.constantFrom('d0', 'd1', 'd2'),
        off: fc.integer({ min: 0, max: 40 }).map((i) => i * 250),
        sensors: fc.uniqueArray(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 2 }),
        value: fc.integer({ min: -20, max: 20 }),
        dt: fc.integer({ min: -8, max: 12 }).map((k) => k * 250),
      })
      .map(({ device, off, sensors, value, dt }) => ({
        kind: 'msg' as const,
        msg: { device, ts: T + off, tsFromDevice: true, seq: undefined, readings: sensors.map((sensor) => ({ sensor, value })) },
        dt,
      })),
  },
  { weight: 2, arbitrary: fc.integer({ min: -4, max: 24 }).map((k) => ({ kind: 'tick' as const, dt: k * 250 })) },
);

describe('Pipeline.tick', () => {
  it('closes the same windows at the same ticks as a walk at every tick', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 500, 2000), fc.constantFrom(T, T + 5000, T + 60_000), fc.array(op, { maxLength: 80 }), (lateness, clock0, ops) => {
        const settings = { intervalMs: INTERVAL, allowedLatenessMs: lateness, correctionHorizonMs: 20_000, dedupHorizonMs: 20_000 };
        const got: WindowPoint[][] = [[]];
        const want: WindowPoint[][] = [[]];
        const p = new Pipeline(settings, { window: (w) => got.at(-1)!.push(w) });
        const every = new Pipeline(settings, { window: (w) => want.at(-1)!.push(w) });
        let clock = clock0;
        for (const o of ops) {
          clock += o.dt;
          if (o.kind === 'msg') {
            p.ingest(o.msg, clock);
            every.ingest(o.msg, clock);
          } else {
            // The reference forgets what it knows of the next close: its tick walks every pending sensor.
            (every as unknown as { nextClose: number }).nextClose = -Infinity;
            every.tick(clock);
            p.tick(clock);
            got.push([]);
            want.push([]);
          }
        }
        expect(got).toEqual(want);
      }),
      { numRuns: 500 },
    );
  });
});

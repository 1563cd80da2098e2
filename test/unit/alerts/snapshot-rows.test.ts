import { describe, expect, it } from 'vitest';
import { AlertDeltaCapture } from '../../../gateway/alerts/snapshot-rows.js';

/** A capture of `n` devices (d0, d1, ...) with no alert state: each is written as a delete row. */
function capture(n: number) {
  const members = new Set(Array.from({ length: n }, (_, i) => `d${i}`));
  return {
    members,
    c: new AlertDeltaCapture(
      members,
      members.values(),
      new Map(),
      () => undefined,
      0,
      0,
      () => {},
    ),
  };
}

describe('AlertDeltaCapture.step', () => {
  it('is bounded by work: devices already written (by preserve) are passed over a bounded number at a time', () => {
    const { members, c } = capture(1000);
    for (const d of members) c.preserve(d); // every member changed while the capture ran: written before the walk
    let steps = 0;
    while (!c.step(16)) steps++;
    // 1,000 devices passed over at 1/8 of a row each: 16 rows' worth a step, so ~8 steps, not one walk of all.
    expect(steps).toBeGreaterThanOrEqual(7);
    const rows = c.finish();
    expect(rows.rows).toBe(1000); // each written once (no watched sensor: a delete row), none twice
  });

  it('writes the members not written yet, each once, in steps of at most maxDevices rows', () => {
    const { c } = capture(40);
    c.preserve('d3');
    let steps = 1;
    while (!c.step(16)) steps++;
    expect(steps).toBe(3);
    expect(c.finish().rows).toBe(40);
  });
});

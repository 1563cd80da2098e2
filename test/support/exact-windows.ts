import { expect } from 'vitest';
import type { Reading } from '../../gateway/pipeline/types.js';
import type { InfluxServer } from './influxd.js';
import { referenceWindows, type Aggregate } from './reference.js';
import { storedWindows, type StoredWindow } from './telemetry.js';
import { waitFor } from './wait.js';

/**
 * Waits until InfluxDB holds exactly the reference windows of `expected` for the devices below `prefix` (same
 * keys, counts and last values), then compares every aggregate of each.
 */
export async function expectExactWindows(
  influx: InfluxServer,
  gatewayId: string,
  prefix: string,
  expected: readonly Reading[],
  intervalMs: number,
): Promise<void> {
  const reference = referenceWindows(expected, intervalMs);
  const stored = await waitFor(`the windows of ${prefix}`, async () => {
    const mine = new Map([...(await storedWindows(influx, gatewayId))].filter(([k]) => k.startsWith(prefix)));
    if (mine.size !== reference.size) return undefined;
    for (const [k, ref] of reference) if (mine.get(k)?.count !== ref.count || mine.get(k)?.last !== ref.last) return undefined;
    return mine;
  });
  expectWindowsEqual(stored, reference);
}

/** Every reference window is stored, with the same aggregates (mean, min, max, first, last, count). */
export function expectWindowsEqual(stored: ReadonlyMap<string, StoredWindow>, reference: ReadonlyMap<string, Aggregate>): void {
  for (const [key, ref] of reference) {
    const got = stored.get(key);
    expect(got, key).toBeDefined();
    expect({ mean: got!.mean, min: got!.min, max: got!.max, first: got!.first, last: got!.last, count: got!.count }, key).toEqual({
      mean: ref.mean,
      min: ref.min,
      max: ref.max,
      first: ref.first,
      last: ref.last,
      count: ref.count,
    });
  }
}

import type { WindowPoint } from '../pipeline/types.js';

/**
 * One point as the sink writes it to InfluxDB. Plain data so the outbox and tests can build it without the
 * pipeline. Numbers are floats unless their field is listed in `intFields` (written with the `i` suffix):
 * InfluxDB 1.x fixes a field's type at its first write per shard, so a field must always use the same kind.
 */
export interface OutPoint {
  readonly measurement: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly fields: Readonly<Record<string, number | string | boolean>>;
  /** Names of numeric fields written as integers (rounded). */
  readonly intFields?: readonly string[];
  /** Epoch milliseconds; written with precision=ms. */
  readonly time: number;
}

const WINDOW_INT_FIELDS = ['count', 'revision'] as const;

/**
 * The series layout of one window aggregate: tags gateway/device/sensor, time = window start, so a
 * correction (higher revision) of the same window overwrites the earlier version in InfluxDB.
 */
export function windowToPoint(w: WindowPoint, measurement: string, gatewayId: string): OutPoint {
  return {
    measurement,
    tags: { device: w.device, gateway: gatewayId, sensor: w.sensor },
    fields: {
      mean: w.mean,
      min: w.min,
      max: w.max,
      first: w.first,
      last: w.last,
      count: w.count,
      revision: w.revision,
    },
    intFields: WINDOW_INT_FIELDS,
    time: w.start,
  };
}

import type { OutPoint } from '../sink/point.js';

/**
 * The `gateway_stats` measurement: the gateway's own counters, written through the outbox next to the data so
 * that loss (rejections, duplicates, late readings, dropped points, InfluxDB down) is visible in Grafana for the
 * same time range, even for periods when InfluxDB was unreachable (the samples wait in the outbox like any point).
 *
 * Two kinds of series share the measurement (documented in docs/wire-contract.md):
 * - tags {gateway}: one cumulative integer field per counter (since the gateway process started; it restarts at 0
 *   with the process, which `non_negative_difference` / `non_negative_derivative` absorb) plus the gauges;
 * - tags {gateway, reason}: field `rejected`, the cumulative count of messages rejected for that reason. A tag
 *   rather than one field per reason, so Grafana can GROUP BY "reason" and a new reason needs no dashboard change.
 */
export const STATS_MEASUREMENT = 'gateway_stats';

/**
 * Every prom-client Counter of `Metrics` is one field, named after the metric without the `gateway_` prefix and the
 * `_total` suffix (`gateway_readings_late_total` -> `readings_late`), summed over its label sets. Derived, so a new
 * counter reaches Grafana without a change here.
 */
export function counterField(metricName: string): string {
  return metricName.replace(/^gateway_/, '').replace(/_total$/, '');
}

/** Gauges, read from the outbox and the broker at sampling time. All integers except the age. */
export interface StatsGauges {
  /** 1 when the last InfluxDB request got an answer, else 0. */
  readonly influx_up: 0 | 1;
  readonly outbox_points: number;
  readonly outbox_bytes: number;
  readonly outbox_oldest_age_seconds: number;
  readonly outbox_dead_letters: number;
  readonly mqtt_clients: number;
}

export const GAUGE_INT_FIELDS = ['influx_up', 'outbox_points', 'outbox_bytes', 'outbox_dead_letters', 'mqtt_clients'] as const;

export interface StatsSample {
  /** Field name (counterField) -> cumulative value. */
  readonly counters: Readonly<Record<string, number>>;
  /** Cumulative rejections per reason; only reasons seen since the process started. */
  readonly rejectedByReason: Readonly<Record<string, number>>;
  readonly gauges: StatsGauges;
}

/** The points of one sample, time = the gateway clock at sampling. Field types never change (InfluxDB 1.x fixes them per shard). */
export function statsToPoints(sample: StatsSample, gatewayId: string, time: number): OutPoint[] {
  const counterNames = Object.keys(sample.counters).sort();
  const fields: Record<string, number> = {};
  for (const name of counterNames) fields[name] = sample.counters[name]!;
  for (const [name, v] of Object.entries(sample.gauges)) fields[name] = v;
  const points: OutPoint[] = [
    { measurement: STATS_MEASUREMENT, tags: { gateway: gatewayId }, fields, intFields: [...counterNames, ...GAUGE_INT_FIELDS], time },
  ];
  for (const reason of Object.keys(sample.rejectedByReason).sort()) {
    points.push({
      measurement: STATS_MEASUREMENT,
      tags: { gateway: gatewayId, reason },
      fields: { rejected: sample.rejectedByReason[reason]! },
      intFields: ['rejected'],
      time,
    });
  }
  return points;
}

/**
 * Zero samples of `rejected` for reasons seen for the first time, at the previous sample's time: a reason's counter
 * only exists from its first rejection, and without a 0 before it `non_negative_difference` would never show
 * that first step. True to the counter: it was 0 then.
 */
export function reasonBaselines(reasons: readonly string[], gatewayId: string, previousTime: number): OutPoint[] {
  return [...reasons].sort().map((reason) => ({
    measurement: STATS_MEASUREMENT,
    tags: { gateway: gatewayId, reason },
    fields: { rejected: 0 },
    intFields: ['rejected'],
    time: previousTime,
  }));
}

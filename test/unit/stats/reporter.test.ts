import { describe, expect, it } from 'vitest';
import { Counter } from 'prom-client';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics, type Metrics } from '../../../gateway/metrics.js';
import type { OutboxStatus } from '../../../gateway/outbox/outbox.js';
import { formatPoint } from '../../../gateway/sink/line-protocol.js';
import type { OutPoint } from '../../../gateway/sink/point.js';
import { REJECT_REASONS } from '../../../gateway/pipeline/decode.js';
import { StatsReporter } from '../../../gateway/stats/reporter.js';
import { ManualTimers } from '../../support/manual-timers.js';
import { STATS_MEASUREMENT, counterField, statsToPoints } from '../../../gateway/stats/schema.js';

const STATUS: OutboxStatus = {
  points: 7,
  bytes: 900,
  batches: 1,
  oldestAgeMs: 2500,
  openPoints: 3,
  draining: true,
  influxUp: false,
  deadLetters: 2,
  lastError: 'ECONNREFUSED',
};

function setup() {
  const metrics = createMetrics();
  // One entry per sample; `flushedAt` records where in it the reporter committed a batch (the first sample's baselines).
  const appended: OutPoint[][] = [];
  const flushedAt: [number, number][] = [];
  let merge = false;
  const clock = new ManualTimers(1_000_000);
  const reporter = new StatsReporter({
    metrics,
    outbox: {
      status: () => STATUS,
      append: (p) => {
        if (merge) appended.at(-1)!.push(...p);
        else appended.push([...p]);
        merge = false;
      },
      flush: () => {
        flushedAt.push([appended.length - 1, appended.at(-1)!.length]);
        merge = true;
      },
    },
    gatewayId: 'edge-7',
    intervalMs: 10_000,
    log: createLogger('silent'),
    timers: clock,
  });
  return { metrics, appended, flushedAt, clock, reporter };
}

const main = (batch: OutPoint[]) => batch.find((p) => p.tags['reason'] === undefined)!;

describe('gateway stats reporter', () => {
  it('writes every counter of Metrics as a field named after the metric', async () => {
    const metrics: Metrics = createMetrics();
    const names = Object.values(metrics)
      .filter((m) => m instanceof Counter)
      .map((m) => (m as unknown as { name: string }).name);
    expect(counterField('gateway_readings_late_total')).toBe('readings_late');
    const { reporter } = setup();
    const sample = await reporter.sample();
    expect(Object.keys(sample.counters).sort()).toEqual(names.map(counterField).sort());
    // The fields the dashboards read (proven against InfluxDB in test/integration/grafana-dashboards).
    expect(Object.keys(sample.counters)).toEqual(
      expect.arrayContaining([
        'messages_received',
        'readings_accepted',
        'readings_duplicate',
        'readings_late',
        'outbox_dropped_points',
        'outbox_dead_lettered_points',
        'points_written',
      ]),
    );
  });

  it('samples at start, every interval and at stop, with cumulative counters and the outbox gauges', async () => {
    const { metrics, appended, clock, reporter } = setup();
    reporter.start();
    await clock.advance(0);
    expect(appended).toHaveLength(1);
    expect(main(appended[0]!)).toEqual({
      measurement: STATS_MEASUREMENT,
      tags: { gateway: 'edge-7' },
      fields: expect.objectContaining({
        messages_received: 0,
        readings_duplicate: 0,
        influx_up: 0,
        outbox_points: 10,
        outbox_bytes: 900,
        outbox_oldest_age_seconds: 2.5,
        outbox_dead_letters: 2,
        mqtt_clients: 0,
      }),
      intFields: expect.arrayContaining(['messages_received', 'influx_up', 'outbox_points']),
      time: 1_000_000,
    });

    metrics.messagesReceived.inc(5);
    metrics.readingsDuplicate.inc(2);
    metrics.alertsFired.inc({ rule: 'a', severity: 'critical' });
    metrics.alertsFired.inc({ rule: 'b', severity: 'info' }, 2);
    await clock.advance(9_999);
    expect(appended).toHaveLength(1);
    await clock.advance(1);
    expect(appended).toHaveLength(2);
    expect(main(appended[1]!).fields).toMatchObject({ messages_received: 5, readings_duplicate: 2, alerts_fired: 3 });
    expect(main(appended[1]!).time).toBe(1_010_000);

    metrics.messagesReceived.inc();
    await reporter.stop();
    expect(appended).toHaveLength(3);
    expect(main(appended[2]!).fields).toMatchObject({ messages_received: 6 });
    expect(clock.timerCount).toBe(0);
    await clock.advance(60_000);
    expect(appended).toHaveLength(3);
  });

  it('writes rejections per reason: a 0 for every known reason before the first sample, in a batch of its own; counts after', async () => {
    const { metrics, appended, flushedAt, clock, reporter } = setup();
    reporter.start();
    await clock.advance(0);
    metrics.messagesRejected.inc({ reason: 'invalid_json' }, 3);
    await clock.advance(10_000);
    metrics.messagesRejected.inc({ reason: 'bad_value' });
    metrics.messagesRejected.inc({ reason: 'invalid_json' });
    await clock.advance(10_000);
    await reporter.stop();

    const reasons = (batch: OutPoint[]) => batch.filter((p) => p.tags['reason'] !== undefined).map((p) => [p.tags['reason'], p.fields['rejected'], p.time]);
    // InfluxDB 3 fixes a table's tags at its first write: the `reason` tag must be in the first lines of gateway_stats.
    expect(reasons(appended[0]!)).toEqual([...REJECT_REASONS].sort().map((r) => [r, 0, 1_000_000]));
    // The baselines alone, committed before the first {gateway} line: the first line of gateway_stats has `reason`.
    expect(flushedAt).toEqual([[0, REJECT_REASONS.length]]);
    expect(reasons(appended[1]!)).toEqual([['invalid_json', 3, 1_010_000]]);
    expect(reasons(appended[2]!)).toEqual([
      ['bad_value', 1, 1_020_000],
      ['invalid_json', 4, 1_020_000],
    ]);
    expect(main(appended[2]!).fields['messages_rejected']).toBe(5);
  });

  it('formats as line protocol with integer counters and a float age', () => {
    const counters = { messages_received: 1, readings_late: 0 };
    const points = statsToPoints(
      {
        counters,
        rejectedByReason: { bad_id: 2 },
        gauges: { influx_up: 1, outbox_points: 0, outbox_bytes: 0, outbox_oldest_age_seconds: 0.25, outbox_dead_letters: 0, mqtt_clients: 4 },
      },
      'edge-1',
      1_764_331_200_000,
    );
    const lines = points.map((p) => formatPoint(p));
    expect(lines[0]).toMatch(
      /^gateway_stats,gateway=edge-1 .*messages_received=1i,.*influx_up=1i,.*outbox_oldest_age_seconds=0\.25,.*mqtt_clients=4i 1764331200000$/,
    );
    expect(lines[1]).toBe('gateway_stats,gateway=edge-1,reason=bad_id rejected=2i 1764331200000');
  });
});

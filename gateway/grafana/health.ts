import { STATS_MEASUREMENT } from '../stats/schema.js';
import { BUILTIN_ANNOTATION, Layout, bars, dashboard, influx, lines, tagValuesVariable } from './builders.js';
import type { Dashboard } from './model.js';

/**
 * "Gateway health": the `gateway_stats` measurement (gateway/stats/schema.ts). Counters are cumulative since the
 * gateway process started, so panels show `non_negative_derivative` (rates) or `non_negative_difference` (events
 * per interval) of the max per interval: a restart (counter back to 0) is a negative step and is dropped.
 */
const M = `"${STATS_MEASUREMENT}"`;
const GW = `"gateway" =~ /^$gateway$/`;
const perInterval = (field: string, as: string) => `non_negative_difference(max("${field}")) AS "${as}"`;
const BY_GATEWAY = 'GROUP BY time($__interval), "gateway" fill(none)';

export function healthDashboard(): Dashboard {
  const panels = new Layout()
    .add({
      type: 'timeseries',
      title: 'Messages per second',
      description: 'MQTT publishes received on ingest topics, and readings that entered a window.',
      w: 12,
      h: 8,
      targets: [
        influx(
          'A',
          `SELECT non_negative_derivative(max("messages_received"), 1s) AS "received", non_negative_derivative(max("readings_accepted"), 1s) AS "readings accepted" FROM ${M} WHERE ${GW} AND $timeFilter ${BY_GATEWAY}`,
          '$tag_gateway $col',
        ),
      ],
      defaults: lines('reqps'),
    })
    .add({
      type: 'timeseries',
      title: 'Rejected messages by reason',
      description: 'Refusals per interval, by reason (docs/wire-contract.md, "What is refused").',
      w: 12,
      h: 8,
      targets: [
        influx(
          'A',
          `SELECT non_negative_difference(max("rejected")) FROM ${M} WHERE ${GW} AND "reason" != '' AND $timeFilter GROUP BY time($__interval), "gateway", "reason" fill(none)`,
          '$tag_reason ($tag_gateway)',
        ),
      ],
      defaults: bars(),
    })
    .add({
      type: 'timeseries',
      title: 'Duplicates dropped',
      description: 'Readings dropped as resends within pipeline.dedupHorizon, per interval.',
      w: 8,
      h: 7,
      targets: [influx('A', `SELECT ${perInterval('readings_duplicate', 'duplicates')} FROM ${M} WHERE ${GW} AND $timeFilter ${BY_GATEWAY}`, '$tag_gateway')],
      defaults: bars(),
    })
    .add({
      type: 'timeseries',
      title: 'Late readings dropped',
      description: 'Readings older than pipeline.correctionHorizon (or the dedup horizon), per interval.',
      w: 8,
      h: 7,
      targets: [influx('A', `SELECT ${perInterval('readings_late', 'late')} FROM ${M} WHERE ${GW} AND $timeFilter ${BY_GATEWAY}`, '$tag_gateway')],
      defaults: bars(),
    })
    .add({
      type: 'timeseries',
      title: 'Points lost',
      description: 'Points dropped because the outbox reached buffer.maxBytes, and points InfluxDB refused for good (dead letters).',
      w: 8,
      h: 7,
      targets: [
        influx(
          'A',
          `SELECT ${perInterval('outbox_dropped_points', 'dropped')}, ${perInterval('outbox_dead_lettered_points', 'dead-lettered')} FROM ${M} WHERE ${GW} AND $timeFilter ${BY_GATEWAY}`,
          '$tag_gateway $col',
        ),
      ],
      defaults: bars(),
    })
    .add({
      type: 'timeseries',
      title: 'Outbox backlog',
      description: 'Points waiting for InfluxDB, and the age of the oldest waiting batch (right axis).',
      w: 12,
      h: 8,
      targets: [
        influx(
          'A',
          `SELECT max("outbox_points") AS "points", max("outbox_oldest_age_seconds") AS "oldest age" FROM ${M} WHERE ${GW} AND $timeFilter ${BY_GATEWAY}`,
          '$tag_gateway $col',
        ),
      ],
      defaults: lines('short'),
      overrides: [
        {
          matcher: { id: 'byRegexp', options: '.*oldest age$' },
          properties: [
            { id: 'unit', value: 's' },
            { id: 'custom.axisPlacement', value: 'right' },
          ],
        },
      ],
    })
    .add({
      type: 'state-timeline',
      title: 'InfluxDB reachable',
      description:
        'What the gateway saw: 0 while its requests to InfluxDB failed. Those samples wait in the outbox and arrive once InfluxDB is back, so an outage shows up here afterwards.',
      w: 12,
      h: 8,
      targets: [influx('A', `SELECT min("influx_up") FROM ${M} WHERE ${GW} AND $timeFilter ${BY_GATEWAY}`, '$tag_gateway')],
      defaults: {
        color: { mode: 'thresholds' },
        thresholds: {
          mode: 'absolute',
          steps: [
            { color: 'red', value: null },
            { color: 'green', value: 1 },
          ],
        },
        mappings: [{ type: 'value', options: { '0': { text: 'down', color: 'red', index: 0 }, '1': { text: 'up', color: 'green', index: 1 } } }],
      },
      options: { showValue: 'never', mergeValues: true, rowHeight: 0.8 },
    })
    .add({
      type: 'timeseries',
      title: 'Points written per second',
      description: 'Points InfluxDB acknowledged (windows, alerts and these stats).',
      w: 24,
      h: 7,
      targets: [
        influx(
          'A',
          `SELECT non_negative_derivative(max("points_written"), 1s) AS "written" FROM ${M} WHERE ${GW} AND $timeFilter ${BY_GATEWAY}`,
          '$tag_gateway',
        ),
      ],
      defaults: lines('reqps'),
    })
    .panels();

  return dashboard({
    uid: 'edge-gateway-health',
    title: 'Edge gateway: health',
    description: 'The gateway’s own counters (measurement gateway_stats), written through its outbox next to the data.',
    tags: ['edge-gateway', 'iot'],
    time: { from: 'now-3h', to: 'now' },
    templating: { list: [tagValuesVariable('gateway', 'Gateway', STATS_MEASUREMENT, 'gateway')] },
    annotations: { list: [BUILTIN_ANNOTATION] },
    panels,
  });
}

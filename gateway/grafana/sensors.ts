import { BUILTIN_ANNOTATION, Layout, bars, dashboard, influx, influxAnnotation, lines, tagValuesVariable } from './builders.js';
import type { Dashboard } from './model.js';

/**
 * "Sensors": the window aggregates of the `telemetry` measurement (docs/wire-contract.md) and the `alerts`
 * measurement as annotations. Every query filters with `=~ /^$var$/`: Grafana turns a multi-value selection into
 * a regex alternation `(a|b)` with each value regex-escaped, so `/^...$/` matches exactly the selected ids.
 *
 * Zoomed out (Grafana's $__interval longer than pipeline.interval), `min`/`max` stay exact while the line is the
 * unweighted mean of the window means.
 */
const SELECTED = `"device" =~ /^$device$/ AND "sensor" =~ /^$sensor$/`;

export function sensorsDashboard(measurement = 'telemetry'): Dashboard {
  const m = `"${measurement}"`;
  const panels = new Layout()
    .add({
      type: 'stat',
      title: 'Last value',
      description: 'The `last` field of the newest window of each selected sensor.',
      w: 12,
      h: 6,
      targets: [influx('A', `SELECT last("last") FROM ${m} WHERE ${SELECTED} AND $timeFilter GROUP BY "device", "sensor"`, '$tag_device $tag_sensor')],
      defaults: { color: { mode: 'palette-classic' } },
      options: {
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
        textMode: 'value_and_name',
        colorMode: 'value',
        graphMode: 'none',
        justifyMode: 'auto',
        orientation: 'auto',
      },
    })
    .add({
      type: 'timeseries',
      title: 'Readings per window',
      description: 'Data density: readings aggregated per interval (sum of `count`). A gap or a drop to 0 is a device that went quiet.',
      w: 12,
      h: 6,
      targets: [
        influx(
          'A',
          `SELECT sum("count") FROM ${m} WHERE ${SELECTED} AND $timeFilter GROUP BY time($__interval), "device", "sensor" fill(0)`,
          '$tag_device $tag_sensor',
        ),
      ],
      defaults: bars(),
    })
    .row('Device $device', 'device')
    .add({
      type: 'timeseries',
      title: '$sensor',
      description: 'Mean per interval, with the band from the smallest `min` to the largest `max`.',
      w: 12,
      h: 8,
      repeat: 'sensor',
      maxPerRow: 2,
      targets: [
        influx(
          'A',
          `SELECT mean("mean") AS "mean", min("min") AS "min", max("max") AS "max" FROM ${m} WHERE ${SELECTED} AND $timeFilter GROUP BY time($__interval) fill(none)`,
          '$col',
        ),
      ],
      defaults: lines('none', { lineWidth: 2 }),
      overrides: [
        {
          matcher: { id: 'byName', options: 'max' },
          properties: [
            { id: 'custom.fillBelowTo', value: 'min' },
            { id: 'custom.lineWidth', value: 0 },
            { id: 'custom.fillOpacity', value: 20 },
            { id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } },
          ],
        },
        {
          matcher: { id: 'byName', options: 'min' },
          properties: [
            { id: 'custom.lineWidth', value: 0 },
            { id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } },
          ],
        },
        { matcher: { id: 'byName', options: 'mean' }, properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: 'dark-blue' } }] },
      ],
      options: { legend: { showLegend: true, displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi', sort: 'none' } },
    })
    .panels();

  const alertQuery = (state: 'firing' | 'resolved') =>
    `SELECT "value", "threshold", "rule", "severity", "device", "sensor" FROM "alerts" WHERE ${SELECTED} AND "state" = '${state}' AND $timeFilter`;

  return dashboard({
    uid: 'edge-gateway-sensors',
    title: 'Edge gateway: sensors',
    description: 'Window aggregates written by the edge gateway, with its alerts as annotations.',
    tags: ['edge-gateway', 'iot'],
    templating: {
      list: [
        tagValuesVariable('device', 'Device', measurement, 'device'),
        tagValuesVariable('sensor', 'Sensor', measurement, 'sensor', `"device" =~ /^$device$/`),
      ],
    },
    annotations: {
      list: [
        BUILTIN_ANNOTATION,
        influxAnnotation('Alerts firing', 'red', alertQuery('firing'), { text: 'value', tags: 'rule,severity,device,sensor' }),
        influxAnnotation('Alerts resolved', 'green', alertQuery('resolved'), { text: 'value', tags: 'rule,severity,device,sensor' }),
      ],
    },
    panels,
  });
}

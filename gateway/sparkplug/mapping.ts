import type { DeviceMessage, SensorValue } from '../pipeline/types.js';
import { MAX_AHEAD_MS, MIN_TS } from '../pipeline/timestamp.js';
import { metricNumber, type SkipReason } from './datatypes.js';
import type { ResolvedMetric } from './host.js';

/**
 * Sparkplug metrics -> pipeline messages (docs/sparkplug.md, "Mapping"): one reading per numeric metric, on the
 * device `{group}/{edge}[/{device}]`, sensor = the metric's name; time = the metric's timestamp, else the
 * payload's, else the arrival. Consecutive metrics of the same time go as one message. The same dedup, windows, alerts and outbox as every other reading follow.
 */
export interface MappingSink {
  message(msg: DeviceMessage): void;
  /** A metric with no reading: not windowed (strings...), a flag, or a refused value. */
  skip(reason: SkipReason | 'bad_timestamp' | 'bad_name', detail: string): void;
}

/** Sensor names are the metric names, `/` included (e.g. `Motor/Speed`); bounded like every id we store. */
const MAX_NAME = 256;

export function mapMetrics(device: string, metrics: readonly ResolvedMetric[], payloadTs: number | undefined, receivedAt: number, sink: MappingSink): void {
  // Metrics of one time and kind share one message (a DDATA's metrics usually all carry the payload's time).
  let readings: SensorValue[] = [];
  let ts = 0;
  let fromDevice = false;
  let historical = false;
  const flush = () => {
    if (readings.length === 0) return;
    sink.message({ device, ts, tsFromDevice: fromDevice, seq: undefined, readings, ...(historical ? { historical: true } : {}) });
    readings = [];
  };
  for (const { name, datatype, metric: m } of metrics) {
    if (m.isNull) {
      sink.skip('null', name);
      continue;
    }
    if (m.transient) {
      sink.skip('transient', name);
      continue;
    }
    if (name.length === 0 || name.length > MAX_NAME) {
      sink.skip('bad_name', `metric name of ${name.length} characters (1-${MAX_NAME})`);
      continue;
    }
    const value = metricNumber(datatype, m.value);
    if (typeof value === 'string') {
      sink.skip(value, `${name}: datatype ${datatype}, value ${m.value.case ?? 'none'}`);
      continue;
    }
    const stamped = m.timestamp ?? payloadTs;
    let t = receivedAt;
    if (stamped !== undefined) {
      if (!(stamped >= MIN_TS && stamped <= receivedAt + MAX_AHEAD_MS)) {
        sink.skip('bad_timestamp', `${name}: timestamp ${stamped} is before 2000 or more than a day ahead`);
        continue;
      }
      t = stamped;
    }
    if (readings.length > 0 && (t !== ts || (stamped !== undefined) !== fromDevice || m.historical !== historical)) flush();
    ts = t;
    fromDevice = stamped !== undefined;
    historical = m.historical;
    readings.push({ sensor: name, value: value === 0 ? 0 : value });
  }
  flush();
}

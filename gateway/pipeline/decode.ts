import { scanTelemetry, DecodeScratch } from './fast-decode.js';
import { isValidId } from '../wire/topics.js';
import { MAX_AHEAD_MS, MIN_TS, parseRfc3339 } from './timestamp.js';
import type { DeviceMessage, SensorValue } from './types.js';

export { DecodeScratch };

/**
 * Payload decoding and validation for the ingest topics: the edge where untrusted bytes become typed messages.
 *
 * Hand-written rather than a schema library on purpose: it runs for every publish (hundreds of thousands a
 * second). Telemetry in the common shape does not even reach JSON.parse: fast-decode.ts scans the bytes and
 * either returns exactly what this decoder would, or hands the payload here. Its rules are specified
 * once more as a zod schema in payload-schema.ts, and a property test holds the two in agreement.
 *
 * Granularity of rejection (so that bad input loses nothing else):
 *  - the whole publish: payload too large, invalid JSON, not an object/array;
 *  - one object of a telemetry array: bad ts, bad seq, unknown field, no readings;
 *  - one reading: bad sensor id, non-numeric or non-finite value.
 * Each rejection is reported once to the sink with its reason. `bad_payload` is a Sparkplug B payload that does
 * not decode (sparkplug/codec.ts).
 */
export type RejectReason =
  | 'payload_too_large'
  | 'invalid_json'
  | 'bad_topic'
  | 'bad_shape'
  | 'unknown_field'
  | 'no_readings'
  | 'bad_id'
  | 'bad_value'
  | 'bad_timestamp'
  | 'bad_seq'
  | 'bad_payload'
  /** Not decoding's: the pipeline refuses readings of new sensor names beyond pipeline.maxSensorsPerDevice. */
  | 'too_many_sensors';

export const REJECT_REASONS: readonly RejectReason[] = [
  'payload_too_large',
  'invalid_json',
  'bad_topic',
  'bad_shape',
  'unknown_field',
  'no_readings',
  'bad_id',
  'bad_value',
  'bad_timestamp',
  'bad_seq',
  'bad_payload',
  'too_many_sensors',
];

export interface DecodeSink {
  /** With a DecodeScratch given to the decoder, `msg` and its readings are valid during this call only. */
  message(msg: DeviceMessage): void;
  reject(reason: RejectReason, detail: string): void;
}

export interface DecodeLimits {
  readonly maxPayloadBytes: number;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A refused ts for the log: ISO when Date can show it; a safe integer can lie beyond its ±8.64e15 ms (toISOString throws). */
function describeTs(ts: number): string {
  return Math.abs(ts) <= 8.64e15 ? new Date(ts).toISOString() : String(ts);
}

/** Returns the event time, or a string explaining why it is refused. */
function eventTime(raw: unknown, receivedAt: number): number | string {
  let ts: number | undefined;
  if (typeof raw === 'number') {
    if (!Number.isSafeInteger(raw)) return `ts ${raw} is not an integer number of milliseconds`;
    ts = raw;
  } else if (typeof raw === 'string') {
    ts = parseRfc3339(raw);
    if (ts === undefined) return `ts ${JSON.stringify(raw.slice(0, 40))} is not an RFC 3339 timestamp`;
  } else {
    return 'ts must be epoch milliseconds or an RFC 3339 string';
  }
  if (ts < MIN_TS) return `ts ${describeTs(ts)} is before the year 2000`;
  if (ts > receivedAt + MAX_AHEAD_MS) return `ts ${describeTs(ts)} is more than 1 day ahead of the gateway clock`;
  return ts;
}

function decodeSeq(raw: unknown): number | string {
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw;
  return 'seq must be an integer >= 0';
}

/** One telemetry object `{ts?, seq?, readings}`. */
function decodeTelemetryObject(device: string, obj: unknown, receivedAt: number, sink: DecodeSink): void {
  if (!isObject(obj)) return sink.reject('bad_shape', 'a telemetry element must be a JSON object with "readings"');
  let tsRaw: unknown;
  let seqRaw: unknown;
  let readingsRaw: unknown;
  for (const key in obj) {
    if (key === 'readings') readingsRaw = obj[key];
    else if (key === 'ts') tsRaw = obj[key];
    else if (key === 'seq') seqRaw = obj[key];
    else return sink.reject('unknown_field', `unknown field ${JSON.stringify(key.slice(0, 64))} (allowed: ts, seq, readings)`);
  }
  let ts = receivedAt;
  const tsFromDevice = tsRaw !== undefined;
  if (tsFromDevice) {
    const t = eventTime(tsRaw, receivedAt);
    if (typeof t === 'string') return sink.reject('bad_timestamp', t);
    ts = t;
  }
  let seq: number | undefined;
  if (seqRaw !== undefined) {
    const s = decodeSeq(seqRaw);
    if (typeof s === 'string') return sink.reject('bad_seq', s);
    seq = s;
  }
  if (!isObject(readingsRaw)) return sink.reject('no_readings', '"readings" must be an object of sensor: number');
  const readings: SensorValue[] = [];
  for (const sensor in readingsRaw) {
    const value = readingsRaw[sensor];
    if (!isValidId(sensor)) sink.reject('bad_id', `sensor id ${JSON.stringify(sensor.slice(0, 64))} is not valid`);
    else if (typeof value !== 'number' || !Number.isFinite(value)) sink.reject('bad_value', `sensor ${sensor}: value must be a finite number`);
    else readings.push({ sensor, value: value === 0 ? 0 : value }); // -0 becomes 0: InfluxDB and our aggregates treat them alike
  }
  if (readings.length === 0) {
    // Every reading was refused individually (already counted), or there were none at all.
    if (Object.keys(readingsRaw).length === 0) sink.reject('no_readings', '"readings" is empty');
    return;
  }
  sink.message({ device, ts, tsFromDevice, seq, readings });
}

function parseJson(payload: Buffer, sink: DecodeSink): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch (err) {
    sink.reject('invalid_json', `invalid JSON: ${(err as Error).message.slice(0, 120)}`);
    return undefined;
  }
}

/** `scratch`: the fast path's message is filled in it (see DecodeScratch) rather than made anew. */
export function decodeTelemetry(device: string, payload: Buffer, receivedAt: number, limits: DecodeLimits, sink: DecodeSink, scratch?: DecodeScratch): void {
  if (payload.length > limits.maxPayloadBytes) {
    return sink.reject('payload_too_large', `payload of ${payload.length} bytes exceeds mqtt.maxPayloadBytes (${limits.maxPayloadBytes})`);
  }
  const fast = scanTelemetry(device, payload, receivedAt, scratch);
  if (fast !== undefined) return sink.message(fast);
  decodeTelemetryParsed(device, payload, receivedAt, sink);
}

/** The full decoder (JSON.parse + checks): the definition the fast path must agree with. Exported for tests. */
export function decodeTelemetryParsed(device: string, payload: Buffer, receivedAt: number, sink: DecodeSink): void {
  const doc = parseJson(payload, sink);
  if (doc === undefined) return;
  if (Array.isArray(doc)) {
    if (doc.length === 0) return sink.reject('no_readings', 'empty array');
    for (const element of doc) decodeTelemetryObject(device, element, receivedAt, sink);
    return;
  }
  decodeTelemetryObject(device, doc, receivedAt, sink);
}

/** `devices/{device}/sensors/{sensor}`: a bare number, or `{"ts"?, "value"}`. */
export function decodeSensorValue(device: string, sensor: string, payload: Buffer, receivedAt: number, limits: DecodeLimits, sink: DecodeSink): void {
  if (payload.length > limits.maxPayloadBytes) {
    return sink.reject('payload_too_large', `payload of ${payload.length} bytes exceeds mqtt.maxPayloadBytes (${limits.maxPayloadBytes})`);
  }
  const doc = parseJson(payload, sink);
  if (doc === undefined) return;
  let value: unknown = doc;
  let ts = receivedAt;
  let tsFromDevice = false;
  if (isObject(doc)) {
    let tsRaw: unknown;
    value = undefined;
    for (const key in doc) {
      if (key === 'value') value = doc[key];
      else if (key === 'ts') tsRaw = doc[key];
      else return sink.reject('unknown_field', `unknown field ${JSON.stringify(key.slice(0, 64))} (allowed: ts, value)`);
    }
    if (tsRaw !== undefined) {
      const t = eventTime(tsRaw, receivedAt);
      if (typeof t === 'string') return sink.reject('bad_timestamp', t);
      ts = t;
      tsFromDevice = true;
    }
    if (value === undefined) return sink.reject('no_readings', 'missing "value"');
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return sink.reject('bad_value', `sensor ${sensor}: value must be a finite number`);
  }
  sink.message({ device, ts, tsFromDevice, seq: undefined, readings: [{ sensor, value: value === 0 ? 0 : value }] });
}

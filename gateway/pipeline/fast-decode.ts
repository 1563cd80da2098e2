import { MAX_AHEAD_MS, MIN_TS } from './timestamp.js';
import type { DeviceMessage, SensorValue } from './types.js';

/**
 * The hot path of telemetry decoding: a scanner over the payload bytes for the shape nearly every device sends,
 *   {"ts":<int>,"seq":<int>,"readings":{"<id>":<number>,...}}   (keys in any order, ts and seq optional)
 * with no JSON.parse, no intermediate objects and no string for anything but the sensor ids.
 *
 * It either returns the message the full decoder (decode.ts) would produce for these bytes, with no rejection,
 * or `undefined` to mean "not sure: take the slow path". It never rejects anything itself. So every unusual
 * input (arrays, RFC 3339 ts, exponents, long mantissas, escapes, duplicate keys, index-like ids, anything out
 * of range or malformed) falls back, and the slow path stays the one definition of the rules. A property test
 * (test/unit/pipeline/fast-decode.test.ts) holds the two in agreement.
 *
 * Numbers: a decimal with at most 15 significant digits and no exponent is m / 10^k with m < 2^53 and k <= 15,
 * both exact doubles, so one IEEE division gives the correctly rounded value, which is what JSON.parse returns
 * (Clinger's fast path).
 */

const MAX_DIGITS = 15;
const MAX_READINGS = 64;
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

// Scanner state: the value of the last number scanned and whether it had a fraction or a sign. The value is kept
// in a typed array: a double stored in a module variable is a new heap number each time (~16 B per reading).
const NUM = new Float64Array(1);
let numIsInt = true;
let numNeg = false;

function ws(b: Buffer, i: number): number {
  let c = b[i];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++i];
  return i;
}

/** Scans a JSON number at `i`; returns the index after it, or -1 to fall back. */
function scanNumber(b: Buffer, i: number): number {
  numNeg = b[i] === 0x2d;
  if (numNeg) i++;
  let c = b[i]!;
  let m = 0;
  let digits = 0;
  if (c === 0x30) {
    c = b[++i]!; // a leading 0 stands alone [RFC 8259 §6]
  } else if (c >= 0x31 && c <= 0x39) {
    do {
      m = m * 10 + (c - 0x30);
      digits++;
      c = b[++i]!;
    } while (c >= 0x30 && c <= 0x39);
  } else {
    return -1;
  }
  let k = 0;
  numIsInt = true;
  if (c === 0x2e) {
    numIsInt = false;
    c = b[++i]!;
    if (!(c >= 0x30 && c <= 0x39)) return -1;
    do {
      m = m * 10 + (c - 0x30);
      if (m !== 0 || digits > 0) digits++;
      k++;
      c = b[++i]!;
    } while (c >= 0x30 && c <= 0x39);
  }
  if (c === 0x65 || c === 0x45 || digits > MAX_DIGITS || k > MAX_DIGITS) return -1;
  const v = k === 0 ? m : m / POW10[k]!;
  NUM[0] = numNeg ? -v : v;
  return i;
}

/**
 * Sensor ids repeat in every message of a device, so the scanner keeps the last id seen per hash slot and hands
 * out that same string when the bytes match: no string, and no garbage, per reading. Bounded: 4096 ids of <= 64
 * chars. A collision only costs a fresh string.
 */
const SLOTS = 4096;
const interned: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);

function intern(b: Buffer, start: number, end: number, hash: number): string {
  const slot = hash & (SLOTS - 1);
  const known = interned[slot];
  if (known !== undefined && known.length === end - start) {
    let j = 0;
    while (j < known.length && known.charCodeAt(j) === b[start + j]) j++;
    if (j === known.length) return known;
  }
  const fresh = (b as LatinSlicer).latin1Slice(start, end);
  interned[slot] = fresh;
  return fresh;
}

/** Buffer's own latin1 decoder, without toString's argument handling (ids are ASCII, checked byte by byte). */
type LatinSlicer = Buffer & { latin1Slice(start: number, end: number): string };

function isIdByte(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2e || c === 0x2d;
}

/** Readings scanned so far into the scratch's values (scanReadings). */
let count = 0;

/** `readings` object at `i` (the '{'); fills `sc.values` from 0, `count` of them; returns the index after '}' or -1. */
function scanReadings(b: Buffer, i: number, sc: DecodeScratch): number {
  const values = sc.values;
  count = 0;
  i = ws(b, i + 1);
  if (b[i] === 0x7d) return -1; // empty: the slow path words the rejection
  for (;;) {
    if (b[i] !== 0x22) return -1;
    const start = ++i;
    let allDigits = true;
    let h = 0x811c9dc5;
    let c = b[i]!;
    while (isIdByte(c)) {
      if (c < 0x30 || c > 0x39) allDigits = false;
      h = Math.imul(h ^ c, 0x01000193);
      c = b[++i]!;
    }
    const len = i - start;
    // Index-like keys ("7") are enumerated before the others by JSON.parse objects: leave ordering to it.
    if (c !== 0x22 || len === 0 || len > 64 || allDigits) return -1;
    const sensor = intern(b, start, i, h);
    for (let j = 0; j < count; j++) if (values[j]!.sensor === sensor) return -1; // duplicate key
    i = ws(b, i + 1);
    if (b[i] !== 0x3a) return -1;
    i = scanNumber(b, ws(b, i + 1));
    if (i < 0 || count === MAX_READINGS) return -1;
    const num = NUM[0]!;
    const v = values[count++]!;
    v.sensor = sensor;
    v.value = num === 0 ? 0 : num;
    i = ws(b, i);
    if (b[i] === 0x2c) i = ws(b, i + 1);
    else if (b[i] === 0x7d) return i + 1;
    else return -1;
  }
}

// Top-level keys, compared as bytes.
const READINGS = Buffer.from('readings');
const K_TS = 1;
const K_SEQ = 2;
const K_READINGS = 4;

function keyAt(b: Buffer, i: number, end: number): number {
  const n = end - i;
  if (n === 2 && b[i] === 0x74 && b[i + 1] === 0x73) return K_TS;
  if (n === 3 && b[i] === 0x73 && b[i + 1] === 0x65 && b[i + 2] === 0x71) return K_SEQ;
  if (n === 8) {
    for (let j = 0; j < 8; j++) if (b[i + j] !== READINGS[j]) return 0;
    return K_READINGS;
  }
  return 0;
}

/**
 * A message and its readings that scanTelemetry fills in place of new objects, for a caller whose consumer reads a
 * message during the call and keeps nothing of it (Ingest: the pipeline copies what it keeps). At a few hundred
 * thousand readings a second the fresh objects were ~40 % of the gateway thread's garbage (BENCHMARKS.md, "The
 * gateway thread's garbage per publish"). Each scan overwrites what the previous one returned.
 */
export class DecodeScratch {
  /** The readings as scanned, reused: a scan writes its first `count`. */
  readonly values: { sensor: string; value: number }[] = Array.from({ length: MAX_READINGS }, () => ({ sensor: '', value: 0.5 }));
  /** byCount[n]: the first n of `values`, the readings array of a message of n readings (no array made per scan). */
  readonly byCount: readonly (readonly SensorValue[])[] = Array.from({ length: MAX_READINGS + 1 }, (_, n) => this.values.slice(0, n));
  readonly message: { device: string; ts: number; tsFromDevice: boolean; seq: number | undefined; readings: readonly SensorValue[] } = {
    device: '',
    ts: 0.5,
    tsFromDevice: false,
    seq: undefined,
    readings: [],
  };
}

/** The scan's values when the caller gives no scratch; copied into fresh objects for it. */
const OWN = new DecodeScratch();

/**
 * The decoded message for a common-shape telemetry object, or undefined to take the slow path. With `scratch`,
 * the message returned is `scratch.message`, valid until the next scan with the same scratch.
 */
export function scanTelemetry(device: string, b: Buffer, receivedAt: number, scratch?: DecodeScratch): DeviceMessage | undefined {
  let i = ws(b, 0);
  if (b[i] !== 0x7b) return undefined;
  i = ws(b, i + 1);
  let seen = 0;
  let ts = receivedAt;
  let seq: number | undefined;
  const sc = scratch ?? OWN;
  for (;;) {
    if (b[i] !== 0x22) return undefined;
    const end = b.indexOf(0x22, i + 1);
    if (end < 0) return undefined;
    const key = keyAt(b, i + 1, end);
    if (key === 0 || (seen & key) !== 0) return undefined;
    seen |= key;
    i = ws(b, end + 1);
    if (b[i] !== 0x3a) return undefined;
    i = ws(b, i + 1);
    if (key === K_READINGS) {
      if (b[i] !== 0x7b) return undefined;
      i = scanReadings(b, i, sc);
    } else {
      i = scanNumber(b, i);
      if (i < 0 || !numIsInt || numNeg) return undefined;
      const num = NUM[0]!;
      if (key === K_TS) {
        if (num < MIN_TS || num > receivedAt + MAX_AHEAD_MS) return undefined;
        ts = num;
      } else {
        seq = num;
      }
    }
    if (i < 0) return undefined;
    i = ws(b, i);
    if (b[i] === 0x2c) i = ws(b, i + 1);
    else if (b[i] === 0x7d) break;
    else return undefined;
  }
  if ((seen & K_READINGS) === 0 || ws(b, i + 1) !== b.length) return undefined;
  const readings = sc.byCount[count]!;
  if (scratch === undefined)
    return { device, ts, tsFromDevice: (seen & K_TS) !== 0, seq, readings: readings.map((r) => ({ sensor: r.sensor, value: r.value })) };
  const m = scratch.message;
  m.readings = readings;
  m.device = device;
  m.ts = ts;
  m.tsFromDevice = (seen & K_TS) !== 0;
  m.seq = seq;
  return m;
}

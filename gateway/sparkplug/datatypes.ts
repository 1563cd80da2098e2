import type { Payload_Metric } from './proto/sparkplug_b_pb.js';
import { decodeArray, isArrayType } from './arrays.js';

/** Metric datatype codes, Sparkplug 3.0 section 6.4.16 ("Data Types"), details in 6.4.17. */
export const DataType = {
  Unknown: 0,
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
  Text: 14,
  UUID: 15,
  DataSet: 16,
  Bytes: 17,
  File: 18,
  Template: 19,
  PropertySet: 20,
  PropertySetList: 21,
  Int8Array: 22,
  Int16Array: 23,
  Int32Array: 24,
  Int64Array: 25,
  UInt8Array: 26,
  UInt16Array: 27,
  UInt32Array: 28,
  UInt64Array: 29,
  FloatArray: 30,
  DoubleArray: 31,
  BooleanArray: 32,
  StringArray: 33,
  DateTimeArray: 34,
} as const;

/**
 * Why a metric gives no reading. `string`, `bytes`, `dataset`, `template`, `array`, `property_set`: valid values
 * that are not windowed (counted only, docs/sparkplug.md); `null`, `transient`: flags (spec 6.4.6); the rest are
 * refusals of a metric's value.
 */
export type SkipReason =
  'string' | 'bytes' | 'dataset' | 'template' | 'array' | 'property_set' | 'null' | 'transient' | 'unsafe_integer' | 'bad_value' | 'unknown_type';

export const SKIP_REASONS: readonly SkipReason[] = [
  'string',
  'bytes',
  'dataset',
  'template',
  'array',
  'property_set',
  'null',
  'transient',
  'unsafe_integer',
  'bad_value',
  'unknown_type',
];

type Value = Payload_Metric['value'];

const MAX = BigInt(Number.MAX_SAFE_INTEGER);
const MIN = BigInt(Number.MIN_SAFE_INTEGER);

function safe(x: bigint): number | SkipReason {
  return x > MAX || x < MIN ? 'unsafe_integer' : Number(x);
}

/**
 * An integer of `bits` bits. Signed types arrive as two's complement in the unsigned wire field (int_value is a
 * uint32, long_value a uint64; spec 6.4.17); UInt32 may come in either field (Ignition and Tahu send long_value).
 */
function integer(v: Value, bits: number, signed: boolean): number | SkipReason {
  if (v.case === 'intValue') {
    const u = v.value >>> 0;
    if (signed) return bits === 32 ? u | 0 : (u << (32 - bits)) >> (32 - bits);
    return bits < 32 && u >= 2 ** bits ? 'bad_value' : u;
  }
  if (v.case === 'longValue') {
    const u = BigInt.asUintN(64, v.value);
    if (signed) return safe(BigInt.asIntN(bits, u));
    if (bits < 64 && u >= 1n << BigInt(bits)) return 'bad_value';
    return safe(u);
  }
  return 'bad_value';
}

function float(v: Value): number | SkipReason {
  const x = v.case === 'floatValue' || v.case === 'doubleValue' ? v.value : undefined;
  return x === undefined || !Number.isFinite(x) ? 'bad_value' : x;
}

/**
 * The reading value of a metric of `datatype` (its own, or the one its birth declared), or why it has none.
 * Boolean is 0 or 1; DateTime its epoch milliseconds. Arrays are checked (a malformed one is `bad_value`) but,
 * like strings, not windowed.
 */
export function metricNumber(datatype: number, v: Value): number | SkipReason {
  switch (datatype) {
    case DataType.Int8:
      return integer(v, 8, true);
    case DataType.Int16:
      return integer(v, 16, true);
    case DataType.Int32:
      return integer(v, 32, true);
    case DataType.Int64:
      return integer(v, 64, true);
    case DataType.UInt8:
      return integer(v, 8, false);
    case DataType.UInt16:
      return integer(v, 16, false);
    case DataType.UInt32:
      return integer(v, 32, false);
    case DataType.UInt64:
      return integer(v, 64, false);
    case DataType.DateTime:
      return integer(v, 64, false);
    case DataType.Float:
    case DataType.Double:
      return float(v);
    case DataType.Boolean:
      return v.case === 'booleanValue' ? (v.value ? 1 : 0) : 'bad_value';
    case DataType.String:
    case DataType.Text:
    case DataType.UUID:
      return v.case === 'stringValue' ? 'string' : 'bad_value';
    case DataType.Bytes:
    case DataType.File:
      return v.case === 'bytesValue' ? 'bytes' : 'bad_value';
    case DataType.DataSet:
      return v.case === 'datasetValue' ? 'dataset' : 'bad_value';
    case DataType.Template:
      return v.case === 'templateValue' ? 'template' : 'bad_value';
    case DataType.PropertySet:
    case DataType.PropertySetList:
      return 'property_set';
    default:
      if (isArrayType(datatype)) {
        if (v.case !== 'bytesValue') return 'bad_value';
        const arr = decodeArray(datatype, v.value);
        return typeof arr === 'string' ? arr : 'array';
      }
      return 'unknown_type';
  }
}

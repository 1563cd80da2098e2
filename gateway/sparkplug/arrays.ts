/**
 * Sparkplug 3.0 array datatypes (section 6.4.17 "Datatype Details", arrays): carried in `bytes_value` as the
 * elements' little-endian encodings back to back; BooleanArray as a uint32 LE count followed by the booleans
 * packed 8 a byte, the first in the most significant bit; StringArray as NUL-terminated UTF-8 strings.
 * 64-bit elements outside the safe integer range are refused (`unsafe_integer`), like scalar metrics.
 */
export type ArrayValue = readonly number[] | readonly boolean[] | readonly string[];

interface Fixed {
  readonly size: number;
  readonly read: (b: DataView, at: number) => number | bigint;
  readonly write: (b: DataView, at: number, v: number) => void;
}

const FIXED: Record<number, Fixed> = {
  22: { size: 1, read: (b, i) => b.getInt8(i), write: (b, i, v) => b.setInt8(i, v) },
  23: { size: 2, read: (b, i) => b.getInt16(i, true), write: (b, i, v) => b.setInt16(i, v, true) },
  24: { size: 4, read: (b, i) => b.getInt32(i, true), write: (b, i, v) => b.setInt32(i, v, true) },
  25: { size: 8, read: (b, i) => b.getBigInt64(i, true), write: (b, i, v) => b.setBigInt64(i, BigInt(v), true) },
  26: { size: 1, read: (b, i) => b.getUint8(i), write: (b, i, v) => b.setUint8(i, v) },
  27: { size: 2, read: (b, i) => b.getUint16(i, true), write: (b, i, v) => b.setUint16(i, v, true) },
  28: { size: 4, read: (b, i) => b.getUint32(i, true), write: (b, i, v) => b.setUint32(i, v, true) },
  29: { size: 8, read: (b, i) => b.getBigUint64(i, true), write: (b, i, v) => b.setBigUint64(i, BigInt(v), true) },
  30: { size: 4, read: (b, i) => b.getFloat32(i, true), write: (b, i, v) => b.setFloat32(i, v, true) },
  31: { size: 8, read: (b, i) => b.getFloat64(i, true), write: (b, i, v) => b.setFloat64(i, v, true) },
  34: { size: 8, read: (b, i) => b.getBigInt64(i, true), write: (b, i, v) => b.setBigInt64(i, BigInt(v), true) },
};
const BOOLEAN_ARRAY = 32;
const STRING_ARRAY = 33;

export function isArrayType(datatype: number): boolean {
  return datatype >= 22 && datatype <= 34;
}

const MAX = BigInt(Number.MAX_SAFE_INTEGER);
const MIN = BigInt(Number.MIN_SAFE_INTEGER);

/** The elements, or why the bytes are not a valid array of `datatype`. */
export function decodeArray(datatype: number, bytes: Uint8Array): ArrayValue | 'bad_value' | 'unsafe_integer' {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (datatype === BOOLEAN_ARRAY) {
    if (bytes.length < 4) return 'bad_value';
    const n = view.getUint32(0, true);
    if (Math.ceil(n / 8) !== bytes.length - 4) return 'bad_value';
    const out: boolean[] = [];
    for (let i = 0; i < n; i++) out.push((bytes[4 + (i >> 3)]! & (0x80 >> (i & 7))) !== 0);
    return out;
  }
  if (datatype === STRING_ARRAY) {
    if (bytes.length === 0) return [];
    if (bytes[bytes.length - 1] !== 0) return 'bad_value';
    const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, bytes.length - 1));
    return text.split('\0');
  }
  const f = FIXED[datatype];
  if (f === undefined || bytes.length % f.size !== 0) return 'bad_value';
  const out: number[] = [];
  for (let at = 0; at < bytes.length; at += f.size) {
    const v = f.read(view, at);
    if (typeof v === 'bigint') {
      if (v > MAX || v < MIN) return 'unsafe_integer';
      out.push(Number(v));
    } else out.push(v);
  }
  return out;
}

/** The bytes_value of an array metric (edge nodes: the simulator and tests). */
export function encodeArray(datatype: number, values: ArrayValue): Uint8Array {
  if (datatype === BOOLEAN_ARRAY) {
    const bools = values as readonly boolean[];
    const out = new Uint8Array(4 + Math.ceil(bools.length / 8));
    new DataView(out.buffer).setUint32(0, bools.length, true);
    bools.forEach((b, i) => {
      if (b) out[4 + (i >> 3)]! |= 0x80 >> (i & 7);
    });
    return out;
  }
  if (datatype === STRING_ARRAY) {
    const strings = values as readonly string[];
    return strings.length === 0 ? new Uint8Array(0) : new TextEncoder().encode(strings.join('\0') + '\0');
  }
  const f = FIXED[datatype];
  if (f === undefined) throw new RangeError(`datatype ${datatype} is not an array type`);
  const nums = values as readonly number[];
  const out = new Uint8Array(nums.length * f.size);
  const view = new DataView(out.buffer);
  nums.forEach((v, i) => f.write(view, i * f.size, v));
  return out;
}

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeArray, encodeArray } from '../../../gateway/sparkplug/arrays.js';
import { decodePayload, encodePayload, type MetricInit } from '../../../gateway/sparkplug/codec.js';
import { DataType, metricNumber } from '../../../gateway/sparkplug/datatypes.js';

/** Encodes one metric, decodes the payload, and returns the reading value (or the reason for none). */
function valueOf(m: MetricInit): number | string {
  const d = decodePayload(encodePayload({ seq: 0, metrics: [m] }));
  if (!d.ok) throw new Error(d.detail);
  const metric = d.payload.metrics[0]!;
  return metricNumber(metric.datatype!, metric.value);
}

const int = (datatype: number, v: number): MetricInit => ({ name: 'm', datatype, value: { case: 'intValue', value: v >>> 0 } });
const long = (datatype: number, v: bigint): MetricInit => ({ name: 'm', datatype, value: { case: 'longValue', value: BigInt.asUintN(64, v) } });

describe('Sparkplug B datatypes (spec 6.4.16)', () => {
  it.each([
    ['Int8', DataType.Int8, -128],
    ['Int8', DataType.Int8, 127],
    ['Int16', DataType.Int16, -32768],
    ['Int16', DataType.Int16, 32767],
    ['Int32', DataType.Int32, -2147483648],
    ['Int32', DataType.Int32, 2147483647],
    ['UInt8', DataType.UInt8, 255],
    ['UInt16', DataType.UInt16, 65535],
    ['UInt32', DataType.UInt32, 4294967295],
  ])("%s %d in int_value (two's complement in the uint32)", (_n, t, v) => {
    expect(valueOf(int(t, v))).toBe(v);
  });

  it.each([
    ['Int64', DataType.Int64, -(2n ** 53n) + 1n],
    ['Int64', DataType.Int64, 2n ** 53n - 1n],
    ['Int64', DataType.Int64, -1n],
    ['UInt64', DataType.UInt64, 2n ** 53n - 1n],
    ['UInt32 (as Tahu and Ignition send it)', DataType.UInt32, 4294967295n],
    ['DateTime', DataType.DateTime, 1_733_400_000_000n],
    ['Int8 in long_value', DataType.Int8, -5n],
  ])('%s %d in long_value', (_n, t, v) => {
    expect(valueOf(long(t, v))).toBe(Number(v));
  });

  it.each([
    ['Int64 above 2^53', DataType.Int64, 2n ** 53n],
    ['Int64 below -2^53', DataType.Int64, -(2n ** 53n)],
    ['UInt64 above 2^53', DataType.UInt64, 2n ** 64n - 1n],
    ['DateTime above 2^53', DataType.DateTime, 2n ** 60n],
  ])('%s is refused as unsafe_integer', (_n, t, v) => {
    expect(valueOf(long(t, v))).toBe('unsafe_integer');
  });

  it('out-of-range unsigned values are bad_value', () => {
    expect(valueOf(int(DataType.UInt8, 256))).toBe('bad_value');
    expect(valueOf(long(DataType.UInt32, 2n ** 32n))).toBe('bad_value');
  });

  it('Float, Double and Boolean', () => {
    expect(valueOf({ name: 'm', datatype: DataType.Float, value: { case: 'floatValue', value: 1.5 } })).toBe(1.5);
    expect(valueOf({ name: 'm', datatype: DataType.Double, value: { case: 'doubleValue', value: -0.1 } })).toBe(-0.1);
    expect(valueOf({ name: 'm', datatype: DataType.Double, value: { case: 'doubleValue', value: Number.NaN } })).toBe('bad_value');
    expect(valueOf({ name: 'm', datatype: DataType.Boolean, value: { case: 'booleanValue', value: true } })).toBe(1);
    expect(valueOf({ name: 'm', datatype: DataType.Boolean, value: { case: 'booleanValue', value: false } })).toBe(0);
  });

  it('strings, bytes, datasets, templates and arrays give no reading (counted by reason)', () => {
    expect(valueOf({ name: 'm', datatype: DataType.String, value: { case: 'stringValue', value: 'run' } })).toBe('string');
    expect(valueOf({ name: 'm', datatype: DataType.Text, value: { case: 'stringValue', value: 'x' } })).toBe('string');
    expect(valueOf({ name: 'm', datatype: DataType.UUID, value: { case: 'stringValue', value: 'x' } })).toBe('string');
    expect(valueOf({ name: 'm', datatype: DataType.Bytes, value: { case: 'bytesValue', value: new Uint8Array([1]) } })).toBe('bytes');
    expect(
      valueOf({ name: 'm', datatype: DataType.DataSet, value: { case: 'datasetValue', value: { numOfColumns: 1n, columns: ['a'], types: [3], rows: [] } } }),
    ).toBe('dataset');
    expect(valueOf({ name: 'm', datatype: DataType.Template, value: { case: 'templateValue', value: { isDefinition: true } } })).toBe('template');
    expect(valueOf({ name: 'm', datatype: DataType.DoubleArray, value: { case: 'bytesValue', value: encodeArray(DataType.DoubleArray, [1, 2]) } })).toBe(
      'array',
    );
    expect(valueOf({ name: 'm', datatype: DataType.Int16Array, value: { case: 'bytesValue', value: new Uint8Array([1, 2, 3]) } })).toBe('bad_value');
    expect(valueOf({ name: 'm', datatype: 99, value: { case: 'intValue', value: 1 } })).toBe('unknown_type');
  });

  it('a value in the wrong field for its datatype is bad_value', () => {
    expect(valueOf({ name: 'm', datatype: DataType.Int32, value: { case: 'stringValue', value: '1' } })).toBe('bad_value');
    expect(valueOf({ name: 'm', datatype: DataType.Boolean, value: { case: 'intValue', value: 1 } })).toBe('bad_value');
  });
});

describe('Sparkplug B arrays (spec 6.4.17)', () => {
  it('BooleanArray is a uint32 LE count and bits packed from the most significant', () => {
    const bools = [false, false, true, true, false, true, false, false, true, true, false, true];
    const bytes = encodeArray(DataType.BooleanArray, bools);
    expect([...bytes]).toEqual([0x0c, 0, 0, 0, 0x34, 0xd0]);
    expect(decodeArray(DataType.BooleanArray, bytes)).toEqual(bools);
  });

  it('StringArray is NUL-terminated UTF-8', () => {
    const bytes = encodeArray(DataType.StringArray, ['ab', 'cd']);
    expect([...bytes]).toEqual([0x61, 0x62, 0, 0x63, 0x64, 0]);
    expect(decodeArray(DataType.StringArray, bytes)).toEqual(['ab', 'cd']);
  });

  it('fixed-width arrays round-trip, 64-bit elements beyond 2^53 are refused', () => {
    const cases: [number, fc.Arbitrary<number>][] = [
      [DataType.Int8Array, fc.integer({ min: -128, max: 127 })],
      [DataType.Int16Array, fc.integer({ min: -32768, max: 32767 })],
      [DataType.Int32Array, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })],
      [DataType.Int64Array, fc.maxSafeInteger()],
      [DataType.UInt8Array, fc.integer({ min: 0, max: 255 })],
      [DataType.UInt16Array, fc.integer({ min: 0, max: 65535 })],
      [DataType.UInt32Array, fc.integer({ min: 0, max: 2 ** 32 - 1 })],
      [DataType.UInt64Array, fc.maxSafeNat()],
      [DataType.FloatArray, fc.float({ noNaN: true }).map(Math.fround)],
      [DataType.DoubleArray, fc.double({ noNaN: true })],
      [DataType.DateTimeArray, fc.integer({ min: 0, max: 2 ** 50 })],
    ];
    for (const [t, arb] of cases) {
      fc.assert(
        fc.property(fc.array(arb, { maxLength: 20 }), (xs) => {
          expect(decodeArray(t, encodeArray(t, xs))).toEqual(xs);
        }),
        { numRuns: 100 },
      );
    }
    const big = new Uint8Array(8);
    new DataView(big.buffer).setBigUint64(0, 2n ** 60n, true);
    expect(decodeArray(DataType.UInt64Array, big)).toBe('unsafe_integer');
  });
});

describe('Sparkplug B payload codec', () => {
  it('round-trips payloads: timestamp, seq, names, aliases, flags, every scalar value field', () => {
    const value = fc.oneof(
      fc.nat({ max: 2 ** 32 - 1 }).map((v) => ({ case: 'intValue' as const, value: v })),
      fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }).map((v) => ({ case: 'longValue' as const, value: v })),
      fc.double({ noNaN: true }).map((v) => ({ case: 'doubleValue' as const, value: v })),
      fc.boolean().map((v) => ({ case: 'booleanValue' as const, value: v })),
      fc.string().map((v) => ({ case: 'stringValue' as const, value: v })),
    );
    const metric = fc.record({
      name: fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
      alias: fc.option(fc.maxSafeNat(), { nil: undefined }),
      timestamp: fc.option(fc.integer({ min: 0, max: 2 ** 48 }), { nil: undefined }),
      datatype: fc.option(fc.integer({ min: 0, max: 34 }), { nil: undefined }),
      historical: fc.boolean(),
      transient: fc.boolean(),
      isNull: fc.boolean(),
      value,
    });
    const payload = fc.record({
      timestamp: fc.option(fc.integer({ min: 0, max: 2 ** 48 }), { nil: undefined }),
      seq: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
      metrics: fc.array(metric, { maxLength: 6 }),
    });
    fc.assert(
      fc.property(payload, (p) => {
        const bytes = encodePayload({
          ...(p.timestamp !== undefined ? { timestamp: p.timestamp } : {}),
          ...(p.seq !== undefined ? { seq: p.seq } : {}),
          metrics: p.metrics.map((m) => ({
            ...(m.name !== undefined ? { name: m.name } : {}),
            ...(m.alias !== undefined ? { alias: BigInt(m.alias) } : {}),
            ...(m.timestamp !== undefined ? { timestamp: BigInt(m.timestamp) } : {}),
            ...(m.datatype !== undefined ? { datatype: m.datatype } : {}),
            isHistorical: m.historical,
            isTransient: m.transient,
            isNull: m.isNull,
            value: m.value,
          })),
        });
        const d = decodePayload(bytes);
        expect(d.ok).toBe(true);
        if (!d.ok) return;
        expect(d.payload.timestamp).toBe(p.timestamp);
        expect(d.payload.seq).toBe(p.seq);
        expect(d.payload.metrics).toEqual(p.metrics);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses bytes that are not a payload, a seq beyond 255 and an alias beyond 2^53', () => {
    expect(decodePayload(Buffer.from('{"readings":{}}')).ok).toBe(false);
    expect(decodePayload(new Uint8Array([0x0a, 0xff])).ok).toBe(false);
    expect(decodePayload(encodePayload({ seq: 256, metrics: [] })).ok).toBe(false);
    expect(decodePayload(encodePayload({ metrics: [{ alias: 2n ** 60n }] })).ok).toBe(false);
  });

  it('a timestamp beyond 2^53 decodes to NaN (refused per metric later)', () => {
    const d = decodePayload(encodePayload({ timestamp: 2n ** 60n, metrics: [{ name: 'a', timestamp: 2n ** 60n }] }));
    expect(d.ok && d.payload.timestamp).toBeNaN();
    expect(d.ok && d.payload.metrics[0]!.timestamp).toBeNaN();
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodePayloadFull, encodePayload, type MetricInit } from '../../../gateway/sparkplug/codec.js';
import { scanPayload } from '../../../gateway/sparkplug/fast-decode.js';

/** The fast scanner must return exactly what the full decoder returns, or hand the payload over (undefined). */
function agrees(bytes: Uint8Array): 'fast' | 'full' {
  const fast = scanPayload(bytes);
  if (fast === undefined) return 'full';
  const full = decodePayloadFull(bytes);
  expect(full.ok, 'the full decoder refused what the fast one took').toBe(true);
  if (full.ok) expect(fast).toEqual(full.payload);
  return 'fast';
}

const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: 0n, max: 2n ** 53n }),
  fc.constantFrom(0n, 1n, 127n, 128n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n),
);
const value = fc.oneof(
  fc.nat({ max: 2 ** 32 - 1 }).map((v) => ({ case: 'intValue' as const, value: v })),
  u64.map((v) => ({ case: 'longValue' as const, value: v })),
  fc.float().map((v) => ({ case: 'floatValue' as const, value: v })),
  fc.double().map((v) => ({ case: 'doubleValue' as const, value: v })),
  fc.boolean().map((v) => ({ case: 'booleanValue' as const, value: v })),
  fc.string({ unit: 'grapheme' }).map((v) => ({ case: 'stringValue' as const, value: v })),
  fc.uint8Array({ maxLength: 12 }).map((v) => ({ case: 'bytesValue' as const, value: v })),
  fc.constant(null).map(() => ({ case: 'datasetValue' as const, value: { numOfColumns: 1n, columns: ['a'], types: [3], rows: [] } })),
  fc.constant({ case: undefined }),
);
const metric: fc.Arbitrary<MetricInit> = fc.record(
  {
    name: fc.string(),
    alias: u64,
    timestamp: u64,
    datatype: fc.nat({ max: 2 ** 32 - 1 }),
    isHistorical: fc.boolean(),
    isTransient: fc.boolean(),
    isNull: fc.boolean(),
    metadata: fc.constant(null).map(() => ({ contentType: 'x', size: 3n })),
    properties: fc.constant(null).map(() => ({ keys: ['q'], values: [{ type: 3, value: { case: 'intValue' as const, value: 192 } }] })),
    value,
  },
  { requiredKeys: ['value'] },
);
const payload = fc.record({
  timestamp: fc.option(u64, { nil: undefined }),
  seq: fc.option(fc.nat({ max: 300 }), { nil: undefined }),
  metrics: fc.array(metric, { maxLength: 5 }),
});

describe('Sparkplug fast decoder', () => {
  it('agrees with protobuf-es on encoded payloads of every shape', () => {
    let fast = 0;
    fc.assert(
      fc.property(payload, (p) => {
        const bytes = encodePayload({
          ...(p.timestamp !== undefined ? { timestamp: p.timestamp } : {}),
          ...(p.seq !== undefined ? { seq: p.seq } : {}),
          metrics: p.metrics,
        });
        if (agrees(bytes) === 'fast') fast++;
      }),
      { numRuns: 2000 },
    );
    expect(fast).toBeGreaterThan(100); // many take the fast path (not those with a DataSet, metadata or properties)
  });

  it('agrees on damaged payloads: truncated, a byte changed, random bytes', () => {
    const base = payload.map((p) => encodePayload({ ...(p.seq !== undefined ? { seq: p.seq } : {}), metrics: p.metrics }));
    const damaged = fc.oneof(
      fc.tuple(base, fc.nat()).map(([b, n]) => b.subarray(0, b.length === 0 ? 0 : n % b.length)),
      fc.tuple(base, fc.nat(), fc.nat({ max: 255 })).map(([b, i, v]) => {
        const c = Uint8Array.from(b);
        if (c.length > 0) c[i % c.length] = v;
        return c;
      }),
      fc.uint8Array({ maxLength: 64 }),
    );
    fc.assert(
      fc.property(damaged, (bytes) => {
        agrees(bytes);
      }),
      { numRuns: 5000 },
    );
  });

  it('takes a DDATA of doubles by alias and hands DataSets to the full decoder', () => {
    const ddata = encodePayload({
      timestamp: 1_733_400_000_000,
      seq: 200,
      metrics: [
        { alias: 2n, value: { case: 'doubleValue', value: 1.5 } },
        { alias: 3n, value: { case: 'booleanValue', value: true } },
      ],
    });
    expect(scanPayload(ddata)).toEqual({
      timestamp: 1_733_400_000_000,
      seq: 200,
      metrics: [
        {
          name: undefined,
          alias: 2,
          timestamp: undefined,
          datatype: undefined,
          historical: false,
          transient: false,
          isNull: false,
          value: { case: 'doubleValue', value: 1.5 },
        },
        {
          name: undefined,
          alias: 3,
          timestamp: undefined,
          datatype: undefined,
          historical: false,
          transient: false,
          isNull: false,
          value: { case: 'booleanValue', value: true },
        },
      ],
    });
    expect(scanPayload(encodePayload({ metrics: [{ name: 'ds', value: { case: 'datasetValue', value: { numOfColumns: 0n } } }] }))).toBeUndefined();
  });
});

import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeSensorValue, decodeTelemetry, type DecodeSink, type RejectReason } from '../../../gateway/pipeline/decode.js';
import { telemetryObjectSchema } from '../../../gateway/pipeline/payload-schema.js';
import type { DeviceMessage } from '../../../gateway/pipeline/types.js';

/**
 * Hostile payloads against the decoder (decode.test.ts holds the agreement with the schema on well-formed
 * objects; this file is about what an attacker or a broken firmware sends). The decoder's boundary contract:
 * it never throws, it reports at least one outcome per publish, it refuses an oversized payload without parsing
 * it, and the readings it accepts are exactly the valid ones, however the rest of the document is broken.
 */

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const LIMIT = 256 * 1024;
const limits = { maxPayloadBytes: LIMIT };
const ID = /^[A-Za-z0-9_.-]{1,64}$/;

function run(payload: Buffer | string, kind: 'telemetry' | 'sensor' = 'telemetry') {
  const messages: DeviceMessage[] = [];
  const rejections: { reason: RejectReason; detail: string }[] = [];
  const sink: DecodeSink = { message: (m) => messages.push(m), reject: (reason, detail) => rejections.push({ reason, detail }) };
  const buf = typeof payload === 'string' ? Buffer.from(payload) : payload;
  if (kind === 'telemetry') decodeTelemetry('dev-1', buf, NOW, limits, sink);
  else decodeSensorValue('dev-1', 'temp', buf, NOW, limits, sink);
  return { messages, rejections, readings: messages.flatMap((m) => m.readings.map((r) => ({ ts: m.ts, ...r }))) };
}

afterEach(() => vi.restoreAllMocks());

describe('numbers at the edges', () => {
  // Literal JSON text: JSON.stringify cannot write -0, 1e999 or denormals the way a device's firmware might.
  it.each([
    ['1e308', 1e308],
    ['-1.7976931348623157e308', -Number.MAX_VALUE],
    ['4.9e-324', 5e-324], // the smallest denormal
    ['2.2250738585072009e-308', 2.2250738585072009e-308], // the largest denormal
    ['1e-400', 0], // underflows to 0 in JSON.parse: a valid reading of 0
    ['-0', 0], // -0 is stored as 0
    ['-0.0e0', 0],
    ['9007199254740993', 9007199254740992], // 2^53 + 1 rounds to 2^53 like any double
  ])('accepts the value %s as %d', (literal, expected) => {
    const r = run(`{"readings":{"v":${literal}}}`);
    expect(r.rejections).toEqual([]);
    expect(Object.is(r.readings[0]!.value, expected)).toBe(true);
  });

  it.each(['1e309', '-1e309', '1e999999'])('refuses %s (Infinity after parsing) as bad_value', (literal) => {
    const r = run(`{"readings":{"v":${literal},"ok":1}}`);
    expect(r.readings.map((x) => x.sensor)).toEqual(['ok']);
    expect(r.rejections.map((x) => x.reason)).toEqual(['bad_value']);
  });

  it.each([
    ['9007199254740993', 'bad_timestamp'], // 2^53 + 1: parses to 2^53, not a safe integer
    ['9007199254740991', 'bad_timestamp'], // the largest safe integer: year 287396, more than a day ahead
    ['-1', 'bad_timestamp'],
    ['1e308', 'bad_timestamp'],
    ['-0', 'bad_timestamp'], // 0 ms is 1970: before 2000
    [String(NOW) + '.5', 'bad_timestamp'],
  ] as const)('refuses the ts %s', (literal, reason) => {
    const r = run(`{"ts":${literal},"readings":{"v":1}}`);
    expect(r.messages).toEqual([]);
    expect(r.rejections.map((x) => x.reason)).toEqual([reason]);
  });

  it('refuses seq beyond 2^53 and accepts the largest safe one', () => {
    expect(run('{"seq":9007199254740993,"readings":{"v":1}}').rejections.map((x) => x.reason)).toEqual(['bad_seq']);
    expect(run('{"seq":9007199254740991,"readings":{"v":1}}').messages[0]!.seq).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('duplicate keys', () => {
  // JSON.parse keeps the last of duplicate keys (ECMA-262 JSON.parse, InternalizeJSONProperty); so does the
  // zod schema, which reads the same parsed object. docs/wire-contract.md states it.
  it('keeps the last value of a duplicate sensor, ts or seq', () => {
    const r = run(`{"ts":1,"ts":${NOW - 5000},"seq":1,"seq":2,"readings":{"t":1,"t":2,"h":3}}`);
    expect(r.rejections).toEqual([]);
    expect(r.messages).toEqual([
      {
        device: 'dev-1',
        ts: NOW - 5000,
        tsFromDevice: true,
        seq: 2,
        readings: [
          { sensor: 't', value: 2 },
          { sensor: 'h', value: 3 },
        ],
      },
    ]);
  });

  it('lets a later duplicate make an object invalid, or valid', () => {
    expect(run(`{"readings":{"t":1},"readings":"x"}`).rejections.map((x) => x.reason)).toEqual(['no_readings']);
    expect(run(`{"readings":"x","readings":{"t":1}}`).readings).toEqual([{ ts: NOW, sensor: 't', value: 1 }]);
    const r = run(`{"value":"x","value":4}`, 'sensor');
    expect(r.readings).toEqual([{ ts: NOW, sensor: 'temp', value: 4 }]);
  });
});

describe('size and shape', () => {
  it('refuses a payload over the limit without parsing it, whatever it holds', () => {
    const parse = vi.spyOn(JSON, 'parse');
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 * LIMIT }), fc.constantFrom(0x5b, 0x7b, 0x31, 0x00), (extra, byte) => {
        for (const kind of ['telemetry', 'sensor'] as const) {
          const r = run(Buffer.alloc(LIMIT + extra, byte), kind);
          expect(r.messages).toEqual([]);
          expect(r.rejections.map((x) => x.reason)).toEqual(['payload_too_large']);
        }
      }),
      { numRuns: 50 },
    );
    expect(parse).not.toHaveBeenCalled();
  });

  it('handles nesting as deep as the limit allows without a stack overflow', () => {
    const depth = LIMIT / 2 - 16;
    expect(run('['.repeat(depth) + ']'.repeat(depth)).rejections.map((x) => x.reason)).toEqual(['bad_shape']);
    const inReadings = `{"readings":{"t":${'{"a":'.repeat(depth / 4)}1${'}'.repeat(depth / 4)},"ok":2}}`;
    expect(Buffer.byteLength(inReadings)).toBeLessThanOrEqual(LIMIT);
    const r = run(inReadings);
    expect(r.readings.map((x) => x.sensor)).toEqual(['ok']);
    expect(r.rejections.map((x) => x.reason)).toEqual(['bad_value']);
    // One byte short of a closing bracket: invalid JSON, reported, not thrown.
    expect(run('['.repeat(depth) + ']'.repeat(depth - 1)).rejections.map((x) => x.reason)).toEqual(['invalid_json']);
  });

  it('decodes a backlog array filling the limit, one outcome per element', () => {
    const element = (i: number) => `{"ts":${NOW - 60_000 + i},"readings":{"t":${i}}}`;
    const parts: string[] = [];
    let size = 2;
    for (let i = 0; size + element(i).length + 1 < LIMIT; i++) {
      parts.push(element(i));
      size += element(i).length + 1;
    }
    const r = run(`[${parts.join(',')}]`);
    expect(r.rejections).toEqual([]);
    expect(r.messages).toHaveLength(parts.length);
    // An array of junk: each element refused on its own (counted per element, as the wire contract says).
    const junk = run(`[${Array.from({ length: LIMIT / 2 - 1 }, () => '0').join(',')}]`);
    expect(junk.messages).toEqual([]);
    expect(junk.rejections).toHaveLength(LIMIT / 2 - 1);
    expect(new Set(junk.rejections.map((x) => x.reason))).toEqual(new Set(['bad_shape']));
  });

  it('a huge readings object keeps the valid readings and refuses the others one by one', () => {
    const entries = Array.from({ length: 10_000 }, (_, i) => (i % 3 === 0 ? `"s${i}":"x"` : `"s${i}":${i}`));
    const r = run(`{"readings":{${entries.join(',')}}}`);
    expect(r.readings).toHaveLength(10_000 - Math.ceil(10_000 / 3));
    expect(r.rejections).toHaveLength(Math.ceil(10_000 / 3));
  });
});

describe('hostile documents: the decoder never throws and accepts exactly the valid readings', () => {
  const nasty = fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'valueOf',
    '',
    ' ',
    'a\u0000b',
    'tab\t',
    'é',
    '\u202eevil',
    '\ud800',
    'a'.repeat(64),
    'a'.repeat(65),
    'ts',
    'readings',
  );
  const key = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.-]{1,6}$/), fc.string({ unit: 'binary', maxLength: 6 }), nasty);
  const edgeNumber = fc.constantFrom(1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, -0, 2 ** 53 + 1, -(2 ** 53), 2.2250738585072014e-308, NOW);
  const value: fc.Arbitrary<unknown> = fc.oneof(
    { weight: 4, arbitrary: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), edgeNumber, fc.integer()) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ unit: 'binary', maxLength: 4 }), fc.constant(null), fc.boolean(), fc.constant([1]), fc.constant({ v: 1 })) },
  );
  const ts = fc.oneof(
    fc.integer({ min: Date.UTC(1999, 11, 31), max: NOW + 2 * 86_400_000 }),
    edgeNumber,
    fc.constant('2026-11-28T11:00:00Z'),
    fc.string({ unit: 'binary', maxLength: 8 }),
  );
  const element: fc.Arbitrary<unknown> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record(
        { ts, seq: fc.oneof(fc.nat(), edgeNumber), readings: fc.dictionary(key, value, { maxKeys: 6 }), junk: fc.constant(1) },
        { requiredKeys: ['readings'] },
      ),
    },
    { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 3 }), fc.array(fc.integer(), { maxLength: 2 })) },
  );
  const doc = fc.oneof(element, fc.array(element, { maxLength: 6 }));

  /** Oracle: an element contributes exactly its valid readings when the rest of it passes the schema. */
  function expected(d: unknown): { ts: number; sensor: string; value: number }[] {
    const schema = telemetryObjectSchema(NOW);
    const out: { ts: number; sensor: string; value: number }[] = [];
    const elements = Array.isArray(d) ? d : [d];
    for (const e of elements) {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) continue;
      const readings = (e as Record<string, unknown>).readings;
      if (typeof readings !== 'object' || readings === null || Array.isArray(readings)) continue;
      const valid = Object.entries(readings).filter(([k, v]) => ID.test(k) && typeof v === 'number' && Number.isFinite(v));
      if (valid.length === 0) continue;
      // The schema judges the rest of the element; the readings were judged above (zod's record output would
      // turn an own "__proto__" key into a prototype and lose it, so it is not asked about them).
      const parsed = schema.safeParse({ ...e, readings: { x: 1 } });
      if (!parsed.success) continue;
      for (const [sensor, v] of valid) out.push({ ts: parsed.data.ts ?? NOW, sensor, value: (v as number) === 0 ? 0 : (v as number) });
    }
    return out;
  }

  it('agrees with the oracle on generated hostile documents', () => {
    fc.assert(
      fc.property(doc, (d) => {
        const text = JSON.stringify(d);
        if (text === undefined) return;
        // Round-trip through the text the device would send, so the oracle sees what the decoder sees
        // (e.g. an own "__proto__" key, which object literals would turn into a prototype).
        const r = run(text);
        expect(r.readings).toEqual(expected(JSON.parse(text)));
        expect(r.messages.length + r.rejections.length).toBeGreaterThan(0);
        for (const m of r.messages) expect(m.readings.length).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on arbitrary bytes (including invalid UTF-8) on either topic form', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }).map((a) => Buffer.from(a)),
      fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(`{"readings":{${JSON.stringify(s)}:1}}`)),
      fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s, 'latin1')),
    );
    fc.assert(
      fc.property(bytes, (buf) => {
        for (const kind of ['telemetry', 'sensor'] as const) {
          const r = run(buf, kind);
          expect(r.messages.length + r.rejections.length).toBeGreaterThan(0);
          for (const x of r.readings) {
            expect(x.sensor).toMatch(ID);
            expect(Number.isFinite(x.value)).toBe(true);
            expect(Object.is(x.value, -0)).toBe(false);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('takes "__proto__" and "constructor" as ordinary sensor ids, without touching any prototype', () => {
    const r = run('{"readings":{"__proto__":1,"constructor":2,"toString":3}}');
    expect(r.readings.map((x) => [x.sensor, x.value])).toEqual([
      ['__proto__', 1],
      ['constructor', 2],
      ['toString', 3],
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    const top = run('{"__proto__":{"readings":{"x":1}},"readings":{"t":1}}');
    expect(top.rejections.map((x) => x.reason)).toEqual(['unknown_field']);
  });
});

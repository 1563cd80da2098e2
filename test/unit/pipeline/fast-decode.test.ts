import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTelemetry, decodeTelemetryParsed, type DecodeSink } from '../../../gateway/pipeline/decode.js';
import { DecodeScratch, scanTelemetry } from '../../../gateway/pipeline/fast-decode.js';

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);
const limits = { maxPayloadBytes: 4096 };

/** Every call the decoder makes on its sink, in order. */
function calls(decode: (sink: DecodeSink) => void): unknown[] {
  const out: unknown[] = [];
  decode({ message: (m) => out.push(['message', m]), reject: (reason, detail) => out.push(['reject', reason, detail]) });
  return out;
}

const both = (buf: Buffer) => ({
  withFastPath: calls((s) => decodeTelemetry('dev-1', buf, NOW, limits, s)),
  parsedOnly: calls((s) => decodeTelemetryParsed('dev-1', buf, NOW, s)),
});

// Number texts: valid JSON numbers of every form the scanner handles or refuses, and some invalid ones.
const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.integer().map(String),
  fc.tuple(fc.boolean(), digits(1, 12), digits(0, 10)).map(([neg, i, f]) => `${neg ? '-' : ''}${i}${f ? `.${f}` : ''}`),
  fc.tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 0, max: 17 })).map(([d, k]) => d.toFixed(k)),
  fc.constantFrom(
    '-0',
    '0.0',
    '-0.000',
    '1e5',
    '2E-3',
    '01',
    '1.',
    '.5',
    '+1',
    '-',
    '0.00000000000000001',
    '123456789012345678',
    '9007199254740993',
    'null',
    '"1"',
    'true',
  ),
);
const tsText = fc.oneof(
  fc.integer({ min: Date.UTC(1999, 11, 31), max: NOW + 2 * 86_400_000 }).map(String),
  fc.constantFrom(String(NOW), `${NOW}.0`, `${NOW}.5`, `-${NOW}`, `"2026-11-28T12:00:00Z"`, '0', `${NOW}e0`, '1e12'),
  numberText,
);
const seqText = fc.oneof(fc.nat().map(String), fc.constantFrom('-1', '1.5', '0', '9007199254740993', '"3"'), numberText);
const idText = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_.-]{1,8}$/),
  fc.constantFrom('a', 'b', 'c', '7', '12', '01', 'x'.repeat(64), 'x'.repeat(65), 'bad id', 'ä', 't\\u0065mp', '', '__proto__', 'a"b'),
);
const space = fc.constantFrom('', '', '', ' ', '\n', '\t ', '\r\n');

/** Payloads of the common shape, with the formatting, order, duplicates and mistakes the scanner must notice. */
const commonShape = fc
  .record({
    ts: fc.option(tsText, { nil: undefined }),
    seq: fc.option(seqText, { nil: undefined }),
    readings: fc.option(fc.array(fc.tuple(idText, numberText), { maxLength: 6 }), { nil: undefined }),
    extra: fc.option(fc.constantFrom('"extra":1', '"ts":1', '"readings":{}', '"seq":2'), { nil: undefined }),
    order: fc.integer({ min: 0, max: 5 }),
    sp: fc.array(space, { minLength: 40, maxLength: 40 }),
    tail: fc.constantFrom('', '', ' ', '\n', 'x', ',', '}'),
  })
  .map(({ ts, seq, readings, extra, order, sp, tail }) => {
    let k = 0;
    const s = () => sp[k++ % sp.length]!;
    const fields: string[] = [];
    if (ts !== undefined) fields.push(`"ts"${s()}:${s()}${ts}`);
    if (seq !== undefined) fields.push(`"seq"${s()}:${s()}${seq}`);
    if (readings !== undefined)
      fields.push(`"readings"${s()}:${s()}{${s()}${readings.map(([id, v]) => `"${id}"${s()}:${s()}${v}`).join(`${s()},${s()}`)}${s()}}`);
    if (extra !== undefined) fields.push(extra);
    for (let i = 0; i < order; i++) fields.push(fields.shift()!);
    return Buffer.from(`${s()}{${s()}${fields.join(`${s()},${s()}`)}${s()}}${tail}`);
  });

describe('telemetry fast path', () => {
  it('takes the common shape without JSON.parse and decodes it exactly', () => {
    const buf = Buffer.from(`{"ts":${NOW - 1000},"seq":42,"readings":{"a":21.5,"b":-0,"c":1013.25,"d":0.1}}`);
    const m = scanTelemetry('dev-1', buf, NOW);
    expect(m).toEqual({
      device: 'dev-1',
      ts: NOW - 1000,
      tsFromDevice: true,
      seq: 42,
      readings: [
        { sensor: 'a', value: 21.5 },
        { sensor: 'b', value: 0 },
        { sensor: 'c', value: 1013.25 },
        { sensor: 'd', value: 0.1 },
      ],
    });
    expect(Object.is(m!.readings[1]!.value, 0)).toBe(true);
    expect(scanTelemetry('dev-1', Buffer.from('{"readings":{"t":1}}'), NOW)).toEqual({
      device: 'dev-1',
      ts: NOW,
      tsFromDevice: false,
      seq: undefined,
      readings: [{ sensor: 't', value: 1 }],
    });
  });

  it('leaves everything unusual to the full decoder', () => {
    for (const p of [
      '[{"readings":{"a":1}}]',
      '{"ts":"2026-11-28T12:00:00Z","readings":{"a":1}}',
      '{"readings":{"a":1e3}}',
      '{"readings":{"7":1,"a":2}}',
      '{"readings":{"a":1,"a":2}}',
      '{"readings":{}}',
      '{"ts":1,"readings":{"a":1}}',
      '{"readings":{"a":0.12345678901234567}}',
      '{"readings":{"a":1}} x',
    ]) {
      expect(scanTelemetry('dev-1', Buffer.from(p), NOW), p).toBeUndefined();
    }
  });

  it('agrees with the full decoder on common-shape payloads, however formatted or broken', () => {
    fc.assert(
      fc.property(commonShape, (buf) => {
        const { withFastPath, parsedOnly } = both(buf);
        expect(withFastPath).toEqual(parsedOnly);
        // toEqual treats -0 and 0 alike; the outputs must not.
        const fast = scanTelemetry('dev-1', buf, NOW);
        if (fast !== undefined) for (const r of fast.readings) expect(Object.is(r.value, -0)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with the full decoder on arbitrary JSON and arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.json().map((j) => Buffer.from(j)),
          fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
        ),
        (buf) => {
          const { withFastPath, parsedOnly } = both(buf);
          expect(withFastPath).toEqual(parsedOnly);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('fills a scratch message exactly as it makes a fresh one, whatever the scans before left in it', () => {
    const scratch = new DecodeScratch();
    fc.assert(
      fc.property(fc.array(commonShape, { minLength: 1, maxLength: 6 }), (bufs) => {
        for (const buf of bufs) {
          const fresh = scanTelemetry('dev-1', buf, NOW);
          const filled = scanTelemetry('dev-1', buf, NOW, scratch);
          if (fresh === undefined) {
            expect(filled).toBeUndefined();
            continue;
          }
          expect(filled).toBe(scratch.message);
          expect({ ...filled!, readings: filled!.readings.map((r) => ({ ...r })) }).toStrictEqual(fresh);
          filled!.readings.forEach((r, i) => expect(Object.is(r.value, fresh.readings[i]!.value)).toBe(true));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('gives bit-identical values to JSON.parse for every decimal it accepts', () => {
    fc.assert(
      fc.property(numberText, (text) => {
        const m = scanTelemetry('dev-1', Buffer.from(`{"readings":{"v":${text}}}`), NOW);
        if (m === undefined) return;
        const expected = JSON.parse(text) as number;
        expect(Object.is(m.readings[0]!.value, expected === 0 ? 0 : expected)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

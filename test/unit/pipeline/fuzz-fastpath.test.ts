import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTelemetry, decodeTelemetryParsed, type DecodeSink } from '../../../gateway/pipeline/decode.js';

/**
 * The ingest fast path (fast-decode.ts, a byte scanner in front of JSON.parse) must decide exactly as the full
 * decoder on every spelling of the same JSON a device may send: whitespace anywhere, escapes in keys, every
 * number syntax, duplicate keys. Texts are generated from valid telemetry and then re-spelt.
 */

const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);

function outcome(decode: (sink: DecodeSink) => void) {
  const out: unknown[] = [];
  decode({ message: (m) => out.push(['m', m]), reject: (reason) => out.push(['r', reason]) });
  return out;
}

const ws = fc.constantFrom('', ' ', '\n', '\t', '\r\n  ');
const num = fc.oneof(
  fc.integer({ min: -1e6, max: 1e6 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.constantFrom('1E2', '1e+2', '-0', '-0.0', '0.5e-3', '1e400', '-1e400', '4.9e-324', '1.0', '01', '.5', '+1', '1.', '0x10', 'NaN', '-', '1e', '2e-0'),
);
const key = fc.oneof(
  fc.stringMatching(/^[a-z]{1,4}$/),
  fc.constantFrom('t\\u0065mp', '\\u0074', 'a\\"b', 'a\\\\b', 'a\\/b', 'ts', 'seq', 'readings', '__proto__', 'é', 'a b', ''),
);
const tsText = fc.oneof(
  fc.integer({ min: NOW - 100_000, max: NOW }).map(String),
  fc.constantFrom('"2026-11-28T11:00:00Z"', '"2026-11-28T11:00:00.123+01:00"', `${NOW}.0`, `${NOW}e0`, '1.7e12', 'null', '"x"'),
);

const text = fc
  .tuple(
    fc.array(fc.tuple(key, num), { minLength: 0, maxLength: 4 }),
    fc.option(tsText, { nil: undefined }),
    fc.option(fc.oneof(fc.nat().map(String), fc.constantFrom('-1', '1.5', '1e3')), { nil: undefined }),
    fc.array(ws, { minLength: 12, maxLength: 12 }),
    fc.boolean(),
  )
  .map(([readings, ts, seq, w, array]) => {
    const r = readings.map(([k, v]) => `${w[0]}"${k}"${w[1]}:${w[2]}${v}${w[3]}`).join(',');
    const fields = [`${w[4]}"readings"${w[5]}:${w[6]}{${r}}`];
    if (ts !== undefined) fields.unshift(`${w[7]}"ts"${w[8]}:${w[9]}${ts}`);
    if (seq !== undefined) fields.push(`"seq":${w[10]}${seq}`);
    const obj = `{${fields.join(',')}${w[11]}}`;
    return array ? `[${obj},${obj}]` : obj;
  });

describe('fast path agrees with the full decoder', () => {
  it('on re-spelt telemetry', () => {
    fc.assert(
      fc.property(text, (t) => {
        const buf = Buffer.from(t);
        const fast = outcome((sink) => decodeTelemetry('dev-1', buf, NOW, { maxPayloadBytes: 1 << 20 }, sink));
        const full = outcome((sink) => decodeTelemetryParsed('dev-1', buf, NOW, sink));
        expect(fast).toEqual(full);
      }),
      { numRuns: 4000 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeKey, escapeMeasurement, formatPoint, parseLine, quoteString, splitLines, storableName } from '../../../gateway/sink/line-protocol.js';
import type { OutPoint } from '../../../gateway/sink/point.js';
import { windowToPoint } from '../../../gateway/sink/point.js';

describe('formatPoint', () => {
  it('writes tags, float, integer, string and boolean fields, time in ms', () => {
    const p: OutPoint = {
      measurement: 'telemetry',
      tags: { device: 'd1', sensor: 'temp' },
      fields: { mean: 21.5, count: 12, note: 'ok', alarm: false, whole: 3 },
      intFields: ['count'],
      time: 1_700_000_000_000,
    };
    expect(formatPoint(p)).toBe('telemetry,device=d1,sensor=temp mean=21.5,count=12i,note="ok",alarm=false,whole=3 1700000000000');
  });

  it('escapes measurement, tag keys/values, field keys and strings as InfluxDB 1.x expects', () => {
    expect(escapeMeasurement('a b,c=d')).toBe('a\\ b\\,c=d');
    expect(escapeKey('a b,c=d')).toBe('a\\ b\\,c\\=d');
    expect(quoteString('say "x" \\ y')).toBe('"say \\"x\\" \\\\ y"');
    expect(escapeKey('line\nbreak')).toBe('line\\ break');
    // 1.6 keeps other backslashes literally but cannot write one that ends a name or precedes , = or space.
    expect(escapeKey('a\\b')).toBe('a\\b');
    expect(escapeKey('a\\')).toBe('a/');
    expect(escapeKey('a\\,b')).toBe('a/\\,b');
    const line = formatPoint({ measurement: 'm m', tags: { 't k': 'v,=' }, fields: { 'f k': 'a"b' }, time: 1 });
    expect(line).toBe('m\\ m,t\\ k=v\\,\\= f\\ k="a\\"b" 1');
  });

  it('rounds integer fields, writes int64 beyond 2^53 exactly, leaves out what InfluxDB cannot hold', () => {
    const line = formatPoint({
      measurement: 'm',
      tags: { empty: '', ok: 'y' },
      fields: { a: 2.6, b: 2 ** 60, c: 1e30, d: Number.NaN, e: Infinity, f: 1e21 },
      intFields: ['a', 'b', 'c'],
      time: 1.4,
    });
    expect(line).toBe(`m,ok=y a=3i,b=${2n ** 60n}i,f=1e+21 1`);
    expect(formatPoint({ measurement: 'm', tags: {}, fields: { x: Number.NaN }, time: 1 })).toBeUndefined();
  });

  it('lays out window aggregates with integer count and revision', () => {
    const line = formatPoint(
      windowToPoint({ device: 'd', sensor: 's', start: 10_000, mean: 1.5, min: 1, max: 2, first: 1, last: 2, count: 2, revision: 1 }, 'telemetry', 'edge-1'),
    );
    expect(line).toBe('telemetry,device=d,gateway=edge-1,sensor=s mean=1.5,min=1,max=2,first=1,last=2,count=2i,revision=1i 10000');
  });
});

const name = fc.string({ minLength: 1, maxLength: 8, unit: fc.constantFrom('a', 'b', ' ', ',', '=', '"', '\\', 'é', '\n', '1') });
const safeName = name.filter((s) => !s.startsWith('#'));
const pointArb = fc.record({
  measurement: safeName,
  tags: fc.dictionary(safeName, safeName, { maxKeys: 3 }),
  fields: fc.dictionary(safeName, fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 6 }), fc.boolean()), {
    minKeys: 1,
    maxKeys: 4,
  }),
  time: fc.integer({ min: 0, max: 2 ** 41 }),
});

describe('splitLines and parseLine (the partial-write path) agree with formatPoint', () => {
  it('splitLines(join(lines)) gives the lines back, newlines inside strings included', () => {
    fc.assert(
      fc.property(fc.array(pointArb, { minLength: 1, maxLength: 5 }), (pts) => {
        const lines = pts.map((p) => formatPoint(p)!);
        expect(splitLines(lines.join('\n'))).toEqual(lines);
      }),
    );
  });

  it('parseLine reads back the measurement and each field type', () => {
    fc.assert(
      fc.property(pointArb, (p) => {
        const parsed = parseLine(formatPoint(p)!);
        expect(parsed?.measurement).toBe(storableName(p.measurement));
        const expected = new Map(
          Object.entries(p.fields).map(([k, v]) => [storableName(k), typeof v === 'number' ? 'float' : typeof v === 'string' ? 'string' : 'boolean']),
        );
        expect(new Map(parsed!.fields)).toEqual(expected);
      }),
    );
  });

  it('parseLine sees integer fields and refuses garbage', () => {
    expect(parseLine('m,a=1 v=1i,w=2,s="x y",b=t 5')).toEqual({
      measurement: 'm',
      fields: new Map([
        ['v', 'integer'],
        ['w', 'float'],
        ['s', 'string'],
        ['b', 'boolean'],
      ]),
    });
    expect(parseLine('garbage')).toBeUndefined();
    expect(splitLines('')).toEqual([]);
  });
});

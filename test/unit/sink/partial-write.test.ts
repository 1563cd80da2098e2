import { describe, expect, it } from 'vitest';
import { parseRetryAfter } from '../../../gateway/sink/errors.js';
import { parsePartialWrite, refusedByParse, refusedByTypes } from '../../../gateway/sink/partial-write.js';
import type { FieldType } from '../../../gateway/sink/line-protocol.js';

// Verbatim answers of influxd 1.6.7 (see test/integration/outbox-writer.test.ts).
const CONFLICT = 'partial write: field type conflict: input field "s" on measurement "m" is type float, already exists as type integer dropped=2';
const UNPARSABLE = "partial write: unable to parse 'bad line': invalid field format\nunable to parse 'x y': invalid field format dropped=0";

const schema = (m: Record<string, Record<string, FieldType[]>>) => async () =>
  new Map(Object.entries(m).map(([k, v]) => [k, new Map(Object.entries(v).map(([f, t]) => [f, new Set(t)]))]));

describe('partial write answers', () => {
  it('parses dropped, unparsable lines and the conflict flag', () => {
    expect(parsePartialWrite(CONFLICT)).toEqual({ dropped: 2, unparsable: [], typeConflict: true });
    expect(parsePartialWrite(UNPARSABLE)).toEqual({ dropped: 0, unparsable: ['bad line', 'x y'], typeConflict: false });
    expect(parsePartialWrite("unable to parse 'x': bad")).toBeUndefined();
    // InfluxDB 2.x's 422 message, as its documentation shows it (troubleshoot#troubleshoot-rejected-points).
    const v2 = `failure writing points to database: ${CONFLICT} for database: 9f282d63c7d3a5c0 for retention policy: autogen`;
    expect(parsePartialWrite(v2)).toEqual({ dropped: 2, unparsable: [], typeConflict: true });
  });

  it('finds unparsable lines by text', () => {
    const lines = ['m v=1 1', 'bad line', 'x y', 'm v=2 2'];
    expect(refusedByParse(lines, parsePartialWrite(UNPARSABLE)!)).toEqual([1, 2]);
    expect(refusedByParse(['m v=1 1', 'bad line'], parsePartialWrite(UNPARSABLE)!)).toBeUndefined();
  });

  it('finds type conflicts with the server schema, only when they account for exactly `dropped`', async () => {
    const lines = ['m v=1.5 1', 'm v=2i 2', 'm s=1i,q=1 3', 'm s=1.5,newf=3 4'];
    const pw = parsePartialWrite(CONFLICT)!;
    const known = { m: { v: ['integer'] as FieldType[], s: ['integer'] as FieldType[], q: ['float'] as FieldType[] } };
    expect(await refusedByTypes(lines, pw, schema(known))).toEqual([0, 3]);
    // Count mismatch: not trusted.
    expect(await refusedByTypes(lines.slice(1), pw, schema(known))).toBeUndefined();
    // A field with two types across shards: ambiguous.
    expect(await refusedByTypes(lines, pw, schema({ m: { ...known.m, v: ['integer', 'float'] } }))).toBeUndefined();
  });

  it('parses Retry-After seconds and HTTP dates', () => {
    expect(parseRetryAfter('12')).toBe(12_000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT'))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

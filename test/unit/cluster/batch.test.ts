import { describe, expect, it } from 'vitest';
import { BatchFormatError, decodeBatch, encodeBatch, encodeTick } from '../../../gateway/cluster/batch.js';

describe('ingest batch bytes', () => {
  it('round-trips records in order, with exact receive times and binary payloads', () => {
    const records = [
      { topic: 'devices/a/telemetry', payload: Buffer.from('{"readings":{"t":1}}'), receivedAt: 1_700_000_000_123 },
      { topic: 'devices/é/sensors/x', payload: Buffer.from([0, 255, 10, 13]), receivedAt: 1_700_000_000_124.5 },
      { topic: 'devices/b/telemetry', payload: Buffer.alloc(0), receivedAt: 0 },
    ];
    const got: { topic: string; payload: number[]; receivedAt: number }[] = [];
    expect(decodeBatch(encodeBatch(records), (topic, payload, receivedAt) => got.push({ topic, payload: [...payload], receivedAt }))).toBe(3);
    expect(got).toEqual(records.map((r) => ({ ...r, payload: [...r.payload] })));
  });

  it('refuses truncated or padded bytes before calling back for any record', () => {
    const bytes = encodeBatch([
      { topic: 'devices/a/telemetry', payload: Buffer.from('x'), receivedAt: 1 },
      { topic: 'devices/b/telemetry', payload: Buffer.from('y'), receivedAt: 2 },
    ]);
    let calls = 0;
    for (const bad of [bytes.subarray(0, bytes.length - 1), Buffer.concat([bytes, Buffer.from([0])]), Buffer.from('{}'), Buffer.alloc(0)]) {
      expect(() => decodeBatch(bad, () => calls++)).toThrow(BatchFormatError);
    }
    expect(calls).toBe(0);
  });

  it('carries tick markers apart from records', () => {
    const ticks: number[] = [];
    let records = 0;
    expect(
      decodeBatch(
        encodeTick(1_700_000_000_500),
        () => records++,
        (t) => ticks.push(t),
      ),
    ).toBe(0);
    expect([records, ticks]).toEqual([0, [1_700_000_000_500]]);
    expect(() =>
      decodeBatch(
        encodeTick(1).subarray(0, 8),
        () => records++,
        (t) => ticks.push(t),
      ),
    ).toThrow(BatchFormatError);
  });
});

import { describe, expect, it } from 'vitest';
import { clusterNames, partitionOf } from '../../../gateway/cluster/names.js';
import { decodeCheckpoint, encodeCheckpoint, CheckpointFormatError, isWrongRevision } from '../../../gateway/cluster/checkpoints.js';

describe('partitionOf', () => {
  it('is a function of the device id only, in range, and fixed (FNV-1a 32: front ends of any version agree)', () => {
    // Pinned values: a change here would move devices between partitions of a running cluster.
    // FNV-1a 32 of "a" is 0xe40c292c (the published test vector).
    expect([partitionOf('a', 64), partitionOf('gh-1', 64), partitionOf('sensor.42', 1024)]).toEqual([0xe40c292c % 64, 28, 489]);
    for (let i = 0; i < 1000; i++) {
      const p = partitionOf(`dev-${i}`, 64);
      expect(Number.isInteger(p) && p >= 0 && p < 64).toBe(true);
    }
  });

  it('spreads devices over the partitions (no partition more than twice its share for 6,400 ids)', () => {
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 6400; i++) counts[partitionOf(`device-${i}`, 64)]!++;
    expect(Math.max(...counts)).toBeLessThan(200);
    expect(Math.min(...counts)).toBeGreaterThan(0);
  });
});

describe('clusterNames', () => {
  it('derives valid stream, bucket and subject names from any gatewayId (ID_PATTERN allows "."; names do not)', () => {
    const n = clusterNames('site.a-1_x');
    for (const name of [n.stream, n.leases, n.checkpoints, n.nodes, n.retained]) expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(n.subjects).toBe('gw.site_a-1_x.ingest');
    expect(n.relay.split('.')).toHaveLength(3);
  });
});

describe('partition checkpoint bytes', () => {
  it('round-trips {seq, node, savedAt, pipeline, alerts, sparkplug}', () => {
    const cp = {
      seq: 123_456,
      node: 'gw-a',
      savedAt: 1_700_000_000_123,
      pipeline: Uint8Array.from([1, 2, 3]),
      alerts: Uint8Array.from([9]),
      sparkplug: Uint8Array.from([7, 7]),
    };
    const back = decodeCheckpoint(encodeCheckpoint(cp));
    const plain = (c: typeof back) => ({ ...c, pipeline: [...c.pipeline], alerts: [...c.alerts], sparkplug: [...c.sparkplug] });
    expect(plain(back)).toEqual({ ...cp, pipeline: [1, 2, 3], alerts: [9], sparkplug: [7, 7] });
  });

  it('refuses foreign, truncated and newer bytes with CheckpointFormatError', () => {
    const good = encodeCheckpoint({ seq: 1, node: 'n', savedAt: 0, pipeline: new Uint8Array(4), alerts: new Uint8Array(0), sparkplug: new Uint8Array(0) });
    expect(() => decodeCheckpoint(Buffer.from('hello world, this is not a checkpoint'))).toThrow(CheckpointFormatError);
    expect(() => decodeCheckpoint(good.subarray(0, good.length - 1))).toThrow(CheckpointFormatError);
    const newer = Buffer.from(good);
    newer[4] = 2;
    expect(() => decodeCheckpoint(newer)).toThrow(/version 2/);
  });

  it('tells a compare-and-set refusal from other failures', () => {
    expect(isWrongRevision({ api_error: { err_code: 10071 } })).toBe(true);
    expect(isWrongRevision(new Error('wrong last sequence: 5'))).toBe(true);
    expect(isWrongRevision(new Error('timeout'))).toBe(false);
  });
});

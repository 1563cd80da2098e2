import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { MIN_BYTES, RowBuffers, rowBuffers } from '../../../gateway/persist/row-buffers.js';
import { unpackRows } from '../../../gateway/persist/rows.js';
import { SqliteStateStore } from '../../../gateway/state/sqlite-state.js';
import { filledRows, saveRows } from '../../support/row-batches.js';

const MiB = 1 << 20;

describe('RowBuffers', () => {
  it('reuses a kept buffer for a capture of about its size, and only once', () => {
    const pool = new RowBuffers();
    const b = Buffer.alloc(4 * MiB);
    pool.give(b);
    expect(pool.bytes).toBe(4 * MiB);
    const got = pool.take(4 * MiB);
    expect(got?.buffer).toBe(b.buffer);
    expect(pool.take(4 * MiB)).toBeUndefined();
    expect(pool.bytes).toBe(0);
  });

  it('does not serve a request larger than the buffer, nor keep buffers under MIN_BYTES', () => {
    const pool = new RowBuffers();
    pool.give(Buffer.alloc(MIN_BYTES - 1));
    expect(pool.bytes).toBe(0);
    pool.give(Buffer.alloc(2 * MiB));
    expect(pool.take(3 * MiB)).toBeUndefined();
    expect(pool.bytes).toBe(2 * MiB); // kept for a request it fits
    expect(pool.take(2 * MiB)?.length).toBe(2 * MiB);
  });

  it('lets a buffer go when the capture shrank to far less than it (deltas after a full checkpoint)', () => {
    const pool = new RowBuffers();
    pool.give(Buffer.alloc(16 * MiB));
    expect(pool.take(2 * MiB)).toBeUndefined();
    expect(pool.bytes).toBe(0);
  });

  it('keeps at most two buffers (the pipeline and the alert part), the largest, and picks the best fit', () => {
    const pool = new RowBuffers();
    for (const n of [2, 8, 4]) pool.give(Buffer.alloc(n * MiB));
    expect(pool.bytes).toBe(12 * MiB);
    expect(pool.take(3 * MiB)?.length).toBe(4 * MiB);
    expect(pool.take(7 * MiB)?.length).toBe(8 * MiB);
  });
});

describe('the row buffers the checkpoint writer thread is done with are reused', () => {
  const dirs: string[] = [];
  afterEach(() => {
    rowBuffers.clear();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('after a delta is written, the next capture of the same size writes into the same buffer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'row-buffers-'));
    dirs.push(dir);
    const store = new SqliteStateStore({ dir, sync: 'normal', log: createLogger('silent') });
    try {
      const first = filledRows(2000, 900, 7);
      expect(first.buf.length).toBeGreaterThan(MIN_BYTES);
      expect(first.buf.buffer).toBeInstanceOf(SharedArrayBuffer); // read in place by the writer, not transferred
      await saveRows(store, first);
      expect(rowBuffers.bytes).toBe(first.buf.length);
      const second = filledRows(2000, 900, 9);
      expect(rowBuffers.bytes).toBe(0); // taken by the second capture
      expect(second.buf.buffer).toBe(first.buf.buffer);
      await saveRows(store, second);
      // What the writer wrote is the second capture's bytes, not the first's left in the reused buffer.
      const { rows: stored } = unpackRows(store.load()!.pipeline);
      expect(stored).toHaveLength(2000);
      for (const r of stored) {
        expect(Buffer.from(r).includes(Buffer.alloc(900, 9))).toBe(true);
        expect(Buffer.from(r).includes(Buffer.alloc(900, 7))).toBe(false);
      }
    } finally {
      store.close();
    }
  });
});

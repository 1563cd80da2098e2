import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import type { CheckpointStore } from '../../../gateway/state/checkpoint-store.js';
import type { IngestLog } from '../../../gateway/state/ingest-log.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { SqliteStateStore } from '../../../gateway/state/sqlite-state.js';

type Store = CheckpointStore & IngestLog;
const log = createLogger('silent');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const rec = (i: number, bytes = 10) => ({ topic: `devices/d${i % 3}/telemetry`, payload: Buffer.alloc(bytes, i), receivedAt: 1_000 + i });

/** One suite, every implementation (STYLE.md habit 6). `reopen` is only possible for the file-backed one. */
const impls: { name: string; open: () => { store: Store; reopen?: () => Store } }[] = [
  { name: 'memory', open: () => ({ store: new MemoryStateStore() }) },
  {
    name: 'sqlite',
    open: () => {
      const dir = mkdtempSync(join(tmpdir(), 'state-'));
      dirs.push(dir);
      const mk = () => new SqliteStateStore({ dir, sync: 'normal', log });
      return { store: mk(), reopen: mk };
    },
  },
];

describe.each(impls)('state store contract: $name', ({ open }) => {
  it('appends in order with increasing positions and reads back exactly', () => {
    const { store } = open();
    expect(store.totals()).toEqual({ entries: 0, bytes: 0, oldestReceivedAt: undefined, lastPosition: 0 });
    expect(store.append([rec(1), rec(2)])).toBe(2);
    expect(store.append([rec(3)])).toBe(3);
    const all = [...store.after(0)];
    expect(all.map((r) => r.position)).toEqual([1, 2, 3]);
    expect(all[1]).toMatchObject({ topic: 'devices/d2/telemetry', receivedAt: 1_002 });
    expect(Buffer.compare(all[1]!.payload, Buffer.alloc(10, 2))).toBe(0);
    expect([...store.after(2)].map((r) => r.position)).toEqual([3]);
    expect(store.totals()).toMatchObject({ entries: 3, oldestReceivedAt: 1_001, lastPosition: 3, bytes: 3 * (20 + 10) });
    store.close();
  });

  it('a checkpoint truncates the log it covers, atomically with its position', () => {
    const { store } = open();
    store.append([rec(1), rec(2), rec(3)]);
    expect(store.load()).toBeUndefined();
    store.save({ pipeline: { a: 1 }, alerts: [2], savedAt: 5, logPosition: 2 });
    expect(store.load()).toEqual({ pipeline: { a: 1 }, alerts: [2], savedAt: 5, logPosition: 2 });
    expect([...store.after(0)].map((r) => r.position)).toEqual([3]);
    expect(store.totals()).toMatchObject({ entries: 1, oldestReceivedAt: 1_003, lastPosition: 3 });
    expect(() => store.save({ pipeline: null, alerts: null, savedAt: 6, logPosition: 9 })).toThrow(RangeError);
    store.close();
  });

  it('never reuses a position, also after the log was emptied', () => {
    const { store, reopen } = open();
    store.append([rec(1), rec(2)]);
    store.save({ pipeline: null, alerts: null, savedAt: 1, logPosition: 2 });
    expect(store.totals().entries).toBe(0);
    expect(store.append([rec(3)])).toBe(3);
    if (reopen) {
      store.save({ pipeline: null, alerts: null, savedAt: 2, logPosition: 3 });
      store.close();
      const again = reopen();
      expect(again.load()?.logPosition).toBe(3);
      expect(again.append([rec(4)])).toBe(4);
      expect([...again.after(3)].map((r) => r.receivedAt)).toEqual([1_004]);
      again.close();
    } else {
      store.close();
    }
  });

  it('reads a long log in pages', () => {
    const { store } = open();
    const n = 2_500;
    store.append(Array.from({ length: n }, (_, i) => rec(i, 1)));
    let count = 0;
    let last = 0;
    for (const r of store.after(0)) {
      expect(r.position).toBe(last + 1);
      last = r.position;
      count++;
    }
    expect(count).toBe(n);
    store.close();
  });
});

import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import type { CheckpointStore } from '../../../gateway/state/checkpoint-store.js';
import type { IngestLog } from '../../../gateway/state/ingest-log.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { SqliteStateStore, STATE_FILE } from '../../../gateway/state/sqlite-state.js';

type Store = CheckpointStore & IngestLog;
const log = createLogger('silent');
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A checkpoint part: the stores keep bytes and do not look into them. */
const part = (text: string) => Buffer.from(text);

const rec = (i: number, bytes = 10) => ({ topic: `devices/d${i % 3}/telemetry`, payload: Buffer.alloc(bytes, i), receivedAt: 1_000 + i });

/** Runs `check` on the store, and again on it reopened from its file when it has one; returns the store to go on with. */
function checkAcrossReopen(store: Store, reopen: (() => Store) | undefined, check: (s: Store) => void): Store {
  check(store);
  if (!reopen) return store;
  store.close();
  const again = reopen();
  check(again);
  return again;
}

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
    store.save({ pipeline: part('a1'), alerts: part('2'), sparkplug: part('s'), savedAt: 5, logPosition: 2 });
    expect(store.load()).toEqual({ pipeline: part('a1'), alerts: part('2'), sparkplug: part('s'), savedAt: 5, logPosition: 2 });
    expect([...store.after(0)].map((r) => r.position)).toEqual([3]);
    expect(store.totals()).toMatchObject({ entries: 1, oldestReceivedAt: 1_003, lastPosition: 3 });
    expect(() => store.save({ pipeline: part('p'), alerts: part('a'), sparkplug: part('s'), savedAt: 6, logPosition: 9 })).toThrow(RangeError);
    store.close();
  });

  it('never reuses a position, also after the log was emptied', () => {
    const { store, reopen } = open();
    store.append([rec(1), rec(2)]);
    store.save({ pipeline: part('p'), alerts: part('a'), sparkplug: part('s'), savedAt: 1, logPosition: 2 });
    expect(store.totals().entries).toBe(0);
    expect(store.append([rec(3)])).toBe(3);
    if (reopen) {
      store.save({ pipeline: part('p'), alerts: part('a'), sparkplug: part('s'), savedAt: 2, logPosition: 3 });
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

  it('appends groups of any size exactly: every position, topic, payload and receive time, also after a reopen', () => {
    const { store, reopen } = open();
    // Sizes around the SQLite store's rows per statement (32), so whole statements, remainders and both mixed occur.
    const sizes = [1, 31, 32, 33, 64, 65, 100, 7];
    const all: { topic: string; payload: Buffer; receivedAt: number }[] = [];
    let n = 0;
    for (const size of sizes) {
      const group = Array.from({ length: size }, () => {
        const i = n++;
        return { topic: `devices/d${i}/sensors/s${i % 5}`, payload: Buffer.from(`{"v":${i},"x":"${'y'.repeat(i % 13)}"}`), receivedAt: 5_000 + 3 * i };
      });
      all.push(...group);
      expect(store.append(group)).toBe(n);
    }
    const bytes = all.reduce((b, r) => b + Buffer.byteLength(r.topic) + r.payload.length, 0);
    checkAcrossReopen(store, reopen, (s) => {
      const back = [...s.after(0)];
      expect(back.map((r) => r.position)).toEqual(all.map((_, i) => i + 1));
      expect(back.map((r) => [r.topic, r.payload.toString(), r.receivedAt])).toEqual(all.map((r) => [r.topic, r.payload.toString(), r.receivedAt]));
      expect(s.totals()).toEqual({ entries: n, bytes, oldestReceivedAt: 5_000, lastPosition: n });
    }).close();
  });

  it('keeps the three parts as bytes (copies)', () => {
    const { store, reopen } = open();
    store.append([rec(1)]);
    const pipeline = Buffer.from([7, 0, 255]);
    const alerts = Buffer.from([0x47, 0x57, 0x41, 0x53, 2, 0, 0x80]);
    const sparkplug = Buffer.from([0x47, 0x57, 0x53, 0x50, 1, 0]);
    store.save({ pipeline, alerts, sparkplug, savedAt: 9, logPosition: 1 });
    alerts[0] = 0; // the caller's buffer is not the stored one
    sparkplug[5] = 7;
    const check = (s: Store) => {
      const cp = s.load()!;
      expect(Buffer.isBuffer(cp.alerts) && Buffer.isBuffer(cp.pipeline)).toBe(true);
      expect([...(cp.alerts as Buffer)]).toEqual([0x47, 0x57, 0x41, 0x53, 2, 0, 0x80]);
      expect([...(cp.pipeline as Buffer)]).toEqual([7, 0, 255]);
      expect(Buffer.isBuffer(cp.sparkplug) && [...cp.sparkplug]).toEqual([0x47, 0x57, 0x53, 0x50, 1, 0]);
      expect(cp).toMatchObject({ savedAt: 9, logPosition: 1 });
      (cp.alerts as Buffer)[1] = 9; // nor is a loaded one
      expect((s.load()!.alerts as Buffer)[1]).toBe(0x57);
    };
    const again = checkAcrossReopen(store, reopen, check);
    const bytes = Buffer.from([0, 1, 2, 255, 0x80, 0]);
    again.save({ pipeline: bytes, alerts: Buffer.from([3]), sparkplug: part('s'), savedAt: 10, logPosition: 1 });
    bytes[0] = 9; // the caller's buffer is not the stored one
    const cp = again.load()!;
    expect([...cp.pipeline]).toEqual([0, 1, 2, 255, 0x80, 0]);
    cp.pipeline[1] = 9; // nor is a loaded one
    expect(again.load()!.pipeline[1]).toBe(1);
    again.close();
  });
});

describe('state.db of another layout', () => {
  it('is moved aside as unknown and replaced by a fresh one, and the caller is told', () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-other-'));
    dirs.push(dir);
    // A layout this gateway does not know (no schema version; a JSON body column): not read, not deleted.
    const other = new Database(join(dir, STATE_FILE));
    other.exec('CREATE TABLE checkpoint (id INTEGER PRIMARY KEY, saved_at INTEGER NOT NULL, body TEXT NOT NULL)');
    other.prepare('INSERT INTO checkpoint VALUES (1, 5, ?)').run('{"pipeline":{"version":2}}');
    other.close();

    const told: unknown[] = [];
    const store = new SqliteStateStore({ dir, sync: 'normal', log, onMovedAside: (m) => told.push(m) });
    expect(store.movedAside).toMatchObject({ database: 'state', reason: 'unknown' });
    expect(told).toEqual([store.movedAside]);
    expect(store.load()).toBeUndefined();
    expect(readdirSync(dir).some((f) => f.startsWith(`${STATE_FILE}.unknown-`))).toBe(true);
    store.save({ pipeline: part('p'), alerts: part('a'), sparkplug: part('s'), savedAt: 1, logPosition: 0 });
    store.close();
    const again = new SqliteStateStore({ dir, sync: 'normal', log });
    expect(again.movedAside).toBeUndefined();
    expect(again.load()).toEqual({ pipeline: part('p'), alerts: part('a'), sparkplug: part('s'), savedAt: 1, logPosition: 0 });
    again.close();
  });
});

describe('state.db WAL', () => {
  it('stays bounded by one checkpoint: it is copied into the database (by the WAL copier) after each save', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-wal-'));
    dirs.push(dir);
    const store = new SqliteStateStore({ dir, sync: 'normal', log });
    const wal = () => statSync(join(dir, `${STATE_FILE}-wal`)).size;
    for (let i = 0; i < 6; i++) {
      store.save({ pipeline: Buffer.alloc(1 << 20, i + 1), alerts: Buffer.from('a'), sparkplug: part('s'), savedAt: i, logPosition: 0 });
      await store.walCopied();
    }
    // Six 1 MiB saves without the copy would leave >= 6 MiB of WAL; with it the WAL is reused from its start.
    expect(wal()).toBeLessThan(3 << 20);
    expect(Buffer.from(store.load()!.pipeline).equals(Buffer.alloc(1 << 20, 6))).toBe(true);
    store.close();
  });
});

import { mkdtempSync, rmSync, statSync } from 'node:fs';
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
    store.save({ pipeline: { a: 1 }, alerts: [2], savedAt: 5, logPosition: 2 });
    expect(store.load()).toEqual({ pipeline: { a: 1 }, alerts: [2], savedAt: 5, logPosition: 2 });
    expect([...store.after(0)].map((r) => r.position)).toEqual([3]);
    expect(store.totals()).toMatchObject({ entries: 1, oldestReceivedAt: 1_003, lastPosition: 3 });
    expect(() => store.save({ pipeline: null, alerts: null, savedAt: 6, logPosition: 9 })).toThrow(RangeError);
    store.close();
  });

  it('keeps the Sparkplug part (JSON) beside the others, and leaves it out when a checkpoint has none', () => {
    const { store } = open();
    store.append([rec(1)]);
    const sparkplug = { v: 1, nodes: [{ group: 'g', edge: 'e', online: true, bdSeq: 3, lastSeq: 9, devices: [['d', true]], aliases: [[1, 'd', 'Motor/Speed', 10]], names: [] }] };
    store.save({ pipeline: Buffer.from([1, 2]), alerts: Buffer.from([3]), sparkplug, savedAt: 5, logPosition: 1 });
    expect(store.load()).toEqual({ pipeline: Buffer.from([1, 2]), alerts: Buffer.from([3]), sparkplug, savedAt: 5, logPosition: 1 });
    store.save({ pipeline: null, alerts: null, savedAt: 6, logPosition: 1 });
    expect(store.load()).toEqual({ pipeline: null, alerts: null, savedAt: 6, logPosition: 1 });
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

  it('keeps a binary pipeline snapshot as bytes (a copy), next to JSON alert state', () => {
    const { store, reopen } = open();
    store.append([rec(1)]);
    const bytes = Buffer.from([0, 1, 2, 255, 0x80, 0]);
    store.save({ pipeline: bytes, alerts: { a: [1.5, 'x'] }, savedAt: 7, logPosition: 1 });
    bytes[0] = 9; // the caller's buffer is not the stored one
    const check = (s: Store) => {
      const cp = s.load()!;
      expect(Buffer.isBuffer(cp.pipeline)).toBe(true);
      expect([...(cp.pipeline as Buffer)]).toEqual([0, 1, 2, 255, 0x80, 0]);
      expect(cp).toMatchObject({ alerts: { a: [1.5, 'x'] }, savedAt: 7, logPosition: 1 });
      (cp.pipeline as Buffer)[1] = 9; // nor is a loaded one
      expect((s.load()!.pipeline as Buffer)[1]).toBe(1);
    };
    const again = checkAcrossReopen(store, reopen, check);
    // A JSON pipeline snapshot replaces a binary one.
    again.save({ pipeline: { version: 2 }, alerts: null, savedAt: 8, logPosition: 1 });
    expect(again.load()).toEqual({ pipeline: { version: 2 }, alerts: null, savedAt: 8, logPosition: 1 });
    again.close();
  });

  it('keeps both parts as bytes (copies) when both are binary, and either part as JSON again afterwards', () => {
    const { store, reopen } = open();
    store.append([rec(1)]);
    const pipeline = Buffer.from([7, 0, 255]);
    const alerts = Buffer.from([0x47, 0x57, 0x41, 0x53, 2, 0, 0x80]);
    store.save({ pipeline, alerts, savedAt: 9, logPosition: 1 });
    alerts[0] = 0; // the caller's buffer is not the stored one
    const check = (s: Store) => {
      const cp = s.load()!;
      expect(Buffer.isBuffer(cp.alerts) && Buffer.isBuffer(cp.pipeline)).toBe(true);
      expect([...(cp.alerts as Buffer)]).toEqual([0x47, 0x57, 0x41, 0x53, 2, 0, 0x80]);
      expect([...(cp.pipeline as Buffer)]).toEqual([7, 0, 255]);
      expect(cp).toMatchObject({ savedAt: 9, logPosition: 1 });
      (cp.alerts as Buffer)[1] = 9; // nor is a loaded one
      expect((s.load()!.alerts as Buffer)[1]).toBe(0x57);
    };
    const again = checkAcrossReopen(store, reopen, check);
    again.save({ pipeline: Buffer.from([1]), alerts: { engine: { version: 1 } }, savedAt: 10, logPosition: 1 });
    expect(again.load()).toEqual({ pipeline: Buffer.from([1]), alerts: { engine: { version: 1 } }, savedAt: 10, logPosition: 1 });
    again.save({ pipeline: { version: 2 }, alerts: Buffer.from([3]), savedAt: 11, logPosition: 1 });
    expect(again.load()).toEqual({ pipeline: { version: 2 }, alerts: Buffer.from([3]), savedAt: 11, logPosition: 1 });
    again.close();
  });
});

/** A state.db as an older gateway left it: the checkpoint table with the given columns after log_position. */
function legacyStateDb(laterColumns: string) {
  const dir = mkdtempSync(join(tmpdir(), 'state-old-'));
  dirs.push(dir);
  const old = new Database(join(dir, STATE_FILE));
  old.exec(`
    CREATE TABLE checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), saved_at INTEGER NOT NULL, body TEXT NOT NULL, log_position INTEGER NOT NULL DEFAULT 0${laterColumns});
    CREATE TABLE ingest_log (position INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL);
  `);
  return { dir, old };
}

describe('state.db written before the pipeline column', () => {
  it('loads the JSON pipeline snapshot from the body, then takes binary ones', () => {
    const { dir, old } = legacyStateDb('');
    const v2 = { version: 2, intervalMs: 10_000, devices: [['d', null, []]], sensors: [], pending: [] };
    old.prepare('INSERT INTO checkpoint (id, saved_at, log_position, body) VALUES (1, 5, 3, ?)').run(JSON.stringify({ pipeline: v2, alerts: { rules: 1 } }));
    old.prepare('INSERT INTO ingest_log VALUES (4, 1000, ?, ?)').run('devices/d/telemetry', Buffer.from('{}'));
    old.close();

    const store = new SqliteStateStore({ dir, sync: 'normal', log });
    expect(store.load()).toEqual({ pipeline: v2, alerts: { rules: 1 }, savedAt: 5, logPosition: 3 });
    expect(store.totals()).toMatchObject({ entries: 1, lastPosition: 4 });
    store.save({ pipeline: Buffer.from('v3'), alerts: { rules: 2 }, savedAt: 6, logPosition: 4 });
    expect(store.load()).toEqual({ pipeline: Buffer.from('v3'), alerts: { rules: 2 }, savedAt: 6, logPosition: 4 });
    store.close();
  });
});

describe('state.db written before the alerts column', () => {
  it('loads the JSON alert snapshot from the body next to the pipeline blob, then takes binary ones', () => {
    const { dir, old } = legacyStateDb(', pipeline BLOB');
    const alerts = { engine: { version: 1, savedAt: 5, sensors: [] }, firing: [] };
    old.prepare('INSERT INTO checkpoint (id, saved_at, log_position, body, pipeline) VALUES (1, 5, 0, ?, ?)').run(JSON.stringify({ alerts }), Buffer.from('v3'));
    old.close();

    const store = new SqliteStateStore({ dir, sync: 'normal', log });
    expect(store.load()).toEqual({ pipeline: Buffer.from('v3'), alerts, savedAt: 5, logPosition: 0 });
    store.save({ pipeline: Buffer.from('v3'), alerts: Buffer.from('v2'), savedAt: 6, logPosition: 0 });
    expect(store.load()).toEqual({ pipeline: Buffer.from('v3'), alerts: Buffer.from('v2'), savedAt: 6, logPosition: 0 });
    store.close();
    const raw = new Database(join(dir, STATE_FILE), { readonly: true });
    expect(raw.prepare('SELECT body FROM checkpoint').get()).toEqual({ body: '{}' });
    raw.close();
  });
});

describe('state.db WAL', () => {
  it('stays bounded by one checkpoint: it is copied into the database on the turn after each save', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-wal-'));
    dirs.push(dir);
    const store = new SqliteStateStore({ dir, sync: 'normal', log });
    const wal = () => statSync(join(dir, `${STATE_FILE}-wal`)).size;
    for (let i = 0; i < 6; i++) {
      store.save({ pipeline: Buffer.alloc(1 << 20, i + 1), alerts: Buffer.from('a'), savedAt: i, logPosition: 0 });
      await new Promise((r) => setImmediate(r));
    }
    // Six 1 MiB saves without the copy would leave >= 6 MiB of WAL; with it the WAL is reused from its start.
    expect(wal()).toBeLessThan(3 << 20);
    expect((store.load() as { pipeline: Buffer }).pipeline.equals(Buffer.alloc(1 << 20, 6))).toBe(true);
    store.close();
  });
});

import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, HOLDER_FILE, LOCK_FILE } from '../../../gateway/data-dir/lock.js';
import { openDataDir } from '../../../gateway/data-dir/open.js';
import { createLogger } from '../../../gateway/log.js';
import { openDatabase } from '../../../gateway/persist/sqlite.js';

const modeOf = (p: string) => statSync(p).mode & 0o777;

/**
 * Name, mode, size, mtime and bytes of everything in a folder: what "touches nothing" compares. The lock file is
 * only stat'ed: closing a descriptor of it in the holding process would drop the lock (POSIX fcntl).
 */
function folderState(dir: string) {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const p = join(dir, name);
      const s = statSync(p);
      return { name, mode: s.mode & 0o777, size: s.size, mtimeMs: s.mtimeMs, bytes: name === LOCK_FILE ? undefined : readFileSync(p).toString('base64') };
    });
}

describe('data folder: lock and owner-only modes', () => {
  const roots: string[] = [];
  const folder = () => {
    const root = mkdtempSync(join(tmpdir(), 'gw-datadir-'));
    roots.push(root);
    return join(root, 'data');
  };
  const lines: string[] = [];
  const log = createLogger('info', { write: (s: string) => void lines.push(s) });
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
    lines.length = 0;
  });

  it('creates the folder 0700, the lock 0600, and names its holder', () => {
    const dir = folder();
    const lock = openDataDir(dir, { log, now: () => Date.parse('2026-12-05T06:00:00Z') });
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(join(dir, LOCK_FILE))).toBe(0o600);
    expect(modeOf(join(dir, HOLDER_FILE))).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, HOLDER_FILE), 'utf8'))).toMatchObject({ pid: process.pid, startedAt: '2026-12-05T06:00:00.000Z' });
    lock.release();
  });

  it('a second claim fails naming the folder and the holder, and changes nothing in the folder', () => {
    const dir = folder();
    const lock = openDataDir(dir, { log });
    // What an older version left: a database 0644 (the second claim must not even tighten it).
    writeFileSync(join(dir, 'state.db'), 'not really a database');
    chmodSync(join(dir, 'state.db'), 0o644);
    const before = folderState(dir);
    let err: unknown;
    try {
      openDataDir(dir, { log });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as Error).message).toContain(`the data folder ${dir}`);
    expect((err as Error).message).toContain(`gateway process ${process.pid} on `);
    expect(folderState(dir)).toEqual(before);
    // Closing the failed claim's descriptor did not drop the holder's POSIX lock (SQLite keeps it per inode).
    expect(() => openDataDir(dir, { log })).toThrow(DataDirLockedError);
    lock.release();
    // Released: the next claim succeeds (and now tightens what it finds).
    openDataDir(dir, { log }).release();
    expect(modeOf(join(dir, 'state.db'))).toBe(0o600);
  });

  it('tightens an existing folder and its files to owner-only, logged once', () => {
    const dir = folder();
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    for (const f of ['state.db', 'state.db-wal', 'outbox.db', 'outbox.db-shm']) {
      writeFileSync(join(dir, f), '');
      chmodSync(join(dir, f), 0o644);
    }
    const lock = openDataDir(dir, { log });
    expect(modeOf(dir)).toBe(0o700);
    for (const f of ['state.db', 'state.db-wal', 'outbox.db', 'outbox.db-shm']) expect(modeOf(join(dir, f)), f).toBe(0o600);
    const warned = lines.map((l) => JSON.parse(l) as { msg: string; tightened?: string[] }).filter((l) => l.tightened);
    expect(warned).toHaveLength(1);
    expect(warned[0]!.tightened).toContain('state.db 644 -> 600');
    lock.release();
  });

  it("the rules history folder and its saved versions are the gateway's own: tightened, and the data folder with them", () => {
    const dir = folder();
    const history = join(dir, 'rules-history');
    mkdirSync(history, { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755);
    chmodSync(history, 0o755);
    const version = join(history, `1764914400000-${'a'.repeat(32)}.yaml`);
    writeFileSync(version, 'rules: []\n');
    chmodSync(version, 0o644);
    const lock = openDataDir(dir, { log });
    // Not an "other file": the data folder itself is made owner-only too.
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(history)).toBe(0o700);
    expect(modeOf(version)).toBe(0o600);
    const warned = lines.map((l) => JSON.parse(l) as { tightened?: string[] }).filter((l) => l.tightened);
    expect(warned[0]!.tightened).toContain('rules-history 755 -> 700');
    lock.release();
  });

  it("tightens the broker's session store (broker/, mqtt.sessions: disk) and a copy moved aside, and their files", () => {
    const dir = folder();
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    for (const d of ['broker', 'broker.corrupt-2026-12-05T06-00-00-000Z']) {
      mkdirSync(join(dir, d), { mode: 0o755 });
      chmodSync(join(dir, d), 0o755);
      for (const f of ['000005.log', 'CURRENT', 'MANIFEST-000004']) {
        writeFileSync(join(dir, d, f), '');
        chmodSync(join(dir, d, f), 0o644);
      }
    }
    const lock = openDataDir(dir, { log });
    // The folder holds only the gateway's own files and folders: tightened too.
    expect(modeOf(dir)).toBe(0o700);
    for (const d of ['broker', 'broker.corrupt-2026-12-05T06-00-00-000Z']) {
      expect(modeOf(join(dir, d)), d).toBe(0o700);
      for (const f of ['000005.log', 'CURRENT', 'MANIFEST-000004']) expect(modeOf(join(dir, d, f)), `${d}/${f}`).toBe(0o600);
    }
    const warned = lines.map((l) => JSON.parse(l) as { tightened?: string[] }).filter((l) => l.tightened);
    expect(warned).toHaveLength(1);
    expect(warned[0]!.tightened).toContain('broker/CURRENT 644 -> 600');
    lock.release();
  });

  it('a folder shared with other files keeps its mode and their modes; the gateway files are tightened', () => {
    const dir = folder();
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    for (const f of ['notes.txt', 'state.db', 'outbox.db.corrupt-2026-12-05T06-00-00-000Z-wal']) {
      writeFileSync(join(dir, f), '');
      chmodSync(join(dir, f), 0o644);
    }
    const lock = openDataDir(dir, { log });
    expect(modeOf(dir)).toBe(0o755);
    expect(modeOf(join(dir, 'notes.txt'))).toBe(0o644);
    expect(modeOf(join(dir, 'state.db'))).toBe(0o600);
    expect(modeOf(join(dir, 'outbox.db.corrupt-2026-12-05T06-00-00-000Z-wal'))).toBe(0o600);
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain(
      'data folder is readable by others and holds other files: its mode is left as it is (give the gateway a folder of its own)',
    );
    lock.release();
  });

  it('new SQLite files and their -wal and -shm are created 0600', () => {
    const dir = folder();
    const lock = openDataDir(dir, { log });
    const { db } = openDatabase({
      file: join(dir, 'outbox.db'),
      format: { name: 'test', userVersion: 1 },
      migrations: ['CREATE TABLE t (x)'],
      sync: 'normal',
      log,
    });
    db.exec('INSERT INTO t VALUES (1)');
    for (const f of ['outbox.db', 'outbox.db-wal', 'outbox.db-shm']) expect(modeOf(join(dir, f)), f).toBe(0o600);
    db.close();
    lock.release();
  });
});

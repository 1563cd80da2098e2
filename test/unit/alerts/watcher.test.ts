import { mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeRulesFileAtomic } from '../../../gateway/alerts/rules-file.js';
import { RulesFileWatcher, type RulesChange } from '../../../gateway/alerts/watcher.js';
import { waitFor } from '../../support/wait.js';

let dir: string;
let file: string;
let watcher: RulesFileWatcher | null = null;
let changes: RulesChange[] = [];

function start(): ReturnType<RulesFileWatcher['start']> {
  watcher = new RulesFileWatcher({ path: file, debounceMs: 50, onChange: (c) => changes.push(c) });
  return watcher.start();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'alerts-watch-'));
  file = join(dir, 'thresholds.yaml');
  changes = [];
  writeFileSync(file, 'rules: [{ name: a, above: 1 }]\n');
});
afterEach(() => {
  watcher?.close();
  watcher = null;
  rmSync(dir, { recursive: true, force: true });
});

describe('RulesFileWatcher', () => {
  it('loads at start without a callback and reports the status', () => {
    const first = start();
    expect(first).toMatchObject({ ok: true, rules: [{ name: 'a' }] });
    expect(changes).toEqual([]);
    expect(watcher!.status()).toMatchObject({ source: file, ruleCount: 1, errors: [], etag: first.etag });
    expect(watcher!.status().loadedAt).toEqual(expect.any(Number));
  });

  it('picks up a valid edit written in place', async () => {
    start();
    writeFileSync(file, 'rules: [{ name: a, above: 1 }, { name: b, noData: 1m }]\n');
    await waitFor('the change', () => changes.length > 0);
    expect(changes[0]).toMatchObject({ ok: true, rules: [{ name: 'a' }, { name: 'b', kind: 'noData' }] });
    expect(watcher!.status()).toMatchObject({ ruleCount: 2, errors: [] });
  });

  it('picks up an edit saved by rename, as editors and writeRulesFileAtomic do', async () => {
    start();
    const tmp = join(dir, '.thresholds.yaml.swp');
    writeFileSync(tmp, 'rules: [{ name: renamed, below: 0 }]\n');
    renameSync(tmp, file);
    await waitFor('the renamed file', () => changes.some((c) => c.ok && c.rules[0]?.name === 'renamed'));
    changes = [];
    await writeRulesFileAtomic(file, 'rules: [{ name: atomic, below: 0 }]\n');
    await waitFor('the atomic write', () => changes.some((c) => c.ok && c.rules[0]?.name === 'atomic'));
  });

  it('reports an invalid edit with its errors and keeps the last good status', async () => {
    const first = start();
    const loadedAt = watcher!.status().loadedAt;
    writeFileSync(file, 'rules:\n  - name: a\n    abov: 1\n');
    await waitFor('the invalid change', () => changes.length > 0);
    const c = changes[0]!;
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.errors).toContainEqual({ path: 'rules[0].abov', line: 3, column: 5, message: 'unknown key' });
    // The running rules are still the old ones: status keeps their load time and ETag, plus the new errors.
    expect(watcher!.status()).toMatchObject({ loadedAt, etag: first.etag, ruleCount: 1 });
    expect(watcher!.status().errors.length).toBeGreaterThan(0);
    // Fixing the file clears the errors.
    writeFileSync(file, 'rules: [{ name: a, above: 2 }]\n');
    await waitFor('the fix', () => changes.some((x) => x.ok));
    expect(watcher!.status().errors).toEqual([]);
  });

  it('reports an over-limit edit (alias bomb, deep nesting) with a position and keeps the last good rules', async () => {
    const first = start();
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      ...'bcdefgh'.split('').map(
        (c, i) =>
          `${c}: &${c} [${Array(10)
            .fill('*' + 'abcdefg'[i])
            .join(', ')}]`,
      ),
      'rules: *h',
    ].join('\n');
    for (const text of [bomb, 'rules: ' + '['.repeat(5000)]) {
      changes = [];
      writeFileSync(file, text);
      watcher!.reload();
      expect(changes).toHaveLength(1);
      const c = changes[0]!;
      expect(c.ok).toBe(false);
      if (!c.ok) expect(c.errors[0]).toMatchObject({ path: '(file)', line: expect.any(Number), message: expect.stringMatching(/limit max(AliasCount|Depth)/) });
      expect(watcher!.status()).toMatchObject({ etag: first.etag, ruleCount: 1 });
    }
  });

  it('reload() applies a write at once, and the watch event for the same text adds no second callback', async () => {
    start();
    await writeRulesFileAtomic(file, 'rules: [{ name: put, above: 3 }]\n');
    watcher!.reload();
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ ok: true, rules: [{ name: 'put' }] });
    // Let any pending watch event settle: a later, different edit must be the only other callback.
    writeFileSync(file, 'rules: [{ name: later, above: 3 }]\n');
    await waitFor('the later edit', () => changes.some((c) => c.ok && c.rules[0]?.name === 'later'));
    expect(changes.map((c) => (c.ok ? c.rules[0]?.name : 'error'))).toEqual(['put', 'later']);
  });

  it('reports a deleted file and recovers when it comes back', async () => {
    start();
    rmSync(file);
    await waitFor('the deletion', () => changes.some((c) => !c.ok));
    const c = changes.find((x) => !x.ok)!;
    if (!c.ok) expect(c.errors[0]).toMatchObject({ path: '(file)', message: expect.stringContaining('ENOENT') });
    writeFileSync(file, 'rules: [{ name: back, above: 1 }]\n');
    await waitFor('the file coming back', () => changes.some((x) => x.ok && x.rules[0]?.name === 'back'));
  });
});

describe('RulesFileWatcher without a directory', () => {
  it('reports the unreadable file and the watch failure instead of throwing', () => {
    const errors: unknown[] = [];
    const w = new RulesFileWatcher({ path: join(tmpdir(), 'no-such-dir-alerts', 'x.yaml'), onChange: () => undefined, onError: (e) => errors.push(e) });
    expect(w.start()).toMatchObject({ ok: false, errors: [{ path: '(file)' }] });
    expect(errors).toHaveLength(1);
    w.close();
  });
});

describe('RulesFileWatcher and a file over the size limit', () => {
  it('refuses it from its size, without reading it, and keeps the last good rules', () => {
    const d = mkdtempSync(join(tmpdir(), 'alerts-big-'));
    const f = join(d, 'thresholds.yaml');
    try {
      writeFileSync(f, 'rules: [{ name: a, above: 1 }]\n');
      const seen: RulesChange[] = [];
      const w = new RulesFileWatcher({ path: f, debounceMs: 50, onChange: (c) => seen.push(c) });
      expect(w.start().ok).toBe(true);
      // Sparse: 9 MiB by its size, nothing written.
      truncateSync(f, 9 * 1024 * 1024);
      w.reload();
      w.close();
      expect(seen).toHaveLength(1);
      expect(seen[0]!.ok).toBe(false);
      if (!seen[0]!.ok) expect(seen[0]!.errors[0]!.message).toMatch(/cannot read: the file is 9437184 bytes, more than the limit of 8388608 bytes/);
      expect(w.status().ruleCount).toBe(1);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

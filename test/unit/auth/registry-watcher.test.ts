import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeDevicesFileAtomic as writeFileAtomic } from '../../../gateway/auth/registry-file.js';
import { DevicesFileWatcher, type DevicesReload } from '../../../gateway/auth/registry-watcher.js';
import { waitFor } from '../../support/wait.js';

describe('devices file watcher', () => {
  let dir: string;
  let file: string;
  let watcher: DevicesFileWatcher | undefined;
  const reloads: DevicesReload[] = [];
  const ids = (r: DevicesReload | undefined) => (r?.ok ? [...r.devices.keys()] : r?.errors.map((e) => e.path));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'devwatch-'));
    file = join(dir, 'devices.yaml');
    reloads.length = 0;
  });
  afterEach(() => {
    watcher?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns the first load, then reports atomic replacements, invalid contents and deletion', async () => {
    writeFileSync(file, 'devices:\n  - id: a\n');
    watcher = new DevicesFileWatcher({ path: file, debounceMs: 50, onChange: (r) => reloads.push(r) });
    expect(ids(watcher.start())).toEqual(['a']);

    await writeFileAtomic(file, 'devices:\n  - id: a\n  - id: b\n');
    expect(await waitFor('the reload', () => (reloads.length >= 1 ? ids(reloads.at(-1)) : undefined))).toEqual(['a', 'b']);

    await writeFileAtomic(file, 'devices:\n  - id: "no good"\n');
    expect(await waitFor('the reload', () => (reloads.length >= 2 ? ids(reloads.at(-1)) : undefined))).toEqual(['devices[0].id']);

    unlinkSync(file);
    const gone = await waitFor('the reload', () => (reloads.length >= 3 ? reloads.at(-1) : undefined));
    expect(gone).toEqual({ ok: true, devices: new Map(), missing: true });
  });

  it('reports nothing when the content did not change (a rewrite of the same text)', async () => {
    writeFileSync(file, 'devices: []\n');
    watcher = new DevicesFileWatcher({ path: file, debounceMs: 20, onChange: (r) => reloads.push(r) });
    watcher.start();
    await writeFileAtomic(file, 'devices: []\n');
    await writeFileAtomic(file, 'devices:\n  - id: z\n');
    // The second write changes the content: it is the only reload.
    expect(await waitFor('the reload', () => (reloads.length >= 1 ? ids(reloads[0]) : undefined))).toEqual(['z']);
    expect(reloads).toHaveLength(1);
  });
});

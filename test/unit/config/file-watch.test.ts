import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../gateway/config/atomic-write.js';
import { FileWatch, type FileRead } from '../../../gateway/config/file-watch.js';
import { waitFor } from '../../support/wait.js';

let dir: string;
let file: string;
let watch: FileWatch<string> | null = null;
let seen: string[] = [];
let errors: unknown[] = [];

/** The file's text, keyed by itself; an unreadable file is 'missing' with a null key (always reported). */
function readText(): FileRead<string> {
  try {
    const text = readFileSync(file, 'utf8');
    return { value: text, key: text };
  } catch {
    return { value: 'missing', key: null };
  }
}

function start(onChange: (v: string) => void = (v) => seen.push(v)): string {
  watch = new FileWatch({ path: file, debounceMs: 30, read: readText, onChange, onError: (e) => errors.push(e) });
  return watch.start();
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'file-watch-'));
  file = join(dir, 'watched.yaml');
  seen = [];
  errors = [];
  writeFileSync(file, 'one\n');
});
afterEach(() => {
  watch?.close();
  watch = null;
  rmSync(dir, { recursive: true, force: true });
});

describe('FileWatch', () => {
  it('returns the first read from start() without calling onChange', () => {
    expect(start()).toBe('one\n');
    expect(seen).toEqual([]);
  });

  it('reports writes in place, by rename and by writeFileAtomic', async () => {
    start();
    writeFileSync(file, 'two\n');
    await waitFor('the in-place write', () => seen.includes('two\n'));
    const tmp = join(dir, '.watched.yaml.swp');
    writeFileSync(tmp, 'three\n');
    renameSync(tmp, file);
    await waitFor('the rename', () => seen.includes('three\n'));
    await writeFileAtomic(file, 'four\n', { newFileMode: 0o644 });
    await waitFor('the atomic write', () => seen.includes('four\n'));
  });

  it('drops a reload whose key equals the last read, and reports every reload with a null key', () => {
    start();
    watch!.reload();
    expect(seen).toEqual([]);
    writeFileSync(file, 'two\n');
    watch!.reload();
    watch!.reload();
    expect(seen).toEqual(['two\n']);
    rmSync(file);
    watch!.reload();
    watch!.reload();
    expect(seen).toEqual(['two\n', 'missing', 'missing']);
  });

  it('contains a throwing onChange: the error goes to onError and later changes are still reported', async () => {
    let calls = 0;
    start((v) => {
      calls++;
      if (calls === 1) throw new Error('listener failed');
      seen.push(v);
    });
    writeFileSync(file, 'two\n');
    watch!.reload();
    expect(errors).toEqual([new Error('listener failed')]);
    writeFileSync(file, 'three\n');
    await waitFor('the next change', () => seen.includes('three\n'));
  });

  it('contains a throwing read: the error goes to onError, no onChange, and later changes are still reported', async () => {
    let reads = 0;
    watch = new FileWatch({
      path: file,
      debounceMs: 30,
      read: () => {
        reads++;
        if (reads === 2) throw new ReferenceError('parser bug');
        return readText();
      },
      onChange: (v) => seen.push(v),
      onError: (e) => errors.push(e),
    });
    watch.start();
    writeFileSync(file, 'two\n');
    // From a timer an exception would end the process: it must come back as onError.
    expect(() => watch!.reload()).not.toThrow();
    expect(errors).toEqual([new ReferenceError('parser bug')]);
    expect(seen).toEqual([]);
    writeFileSync(file, 'three\n');
    await waitFor('the next change', () => seen.includes('three\n'));
  });

  it('reports a directory that cannot be watched to onError instead of throwing', () => {
    file = join(dir, 'no-such-dir', 'x.yaml');
    expect(start()).toBe('missing');
    expect(errors).toHaveLength(1);
  });

  it('close() stops the reports', async () => {
    start();
    watch!.close();
    // A second watch of the same file, open while the write happens, proves the write was observable.
    const other: string[] = [];
    const second = new FileWatch({ path: file, debounceMs: 30, read: readText, onChange: (v) => other.push(v) });
    second.start();
    try {
      writeFileSync(file, 'two\n');
      await waitFor('the second watch to see the write', () => other.includes('two\n'));
    } finally {
      second.close();
    }
    expect(seen).toEqual([]);
  });
});

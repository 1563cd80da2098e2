import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces a file so that readers (a watcher, a crash) see either the old or the new text, never a partial one:
 * write a temp file in the same directory, fsync it, rename it over the target, fsync the directory. The temp
 * name starts with `.` and ends with `.tmp` (watchers ignore it); an existing file keeps its mode less the bits in
 * `clearModeBits` (none by default), a new one gets `newFileMode`. Used for the rules file (admin API) and the
 * devices file (devices CLI).
 */
export async function writeFileAtomic(path: string, text: string, opts: { newFileMode: number; createDir?: boolean; clearModeBits?: number }): Promise<void> {
  const dir = dirname(path);
  if (opts.createDir) await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const mode = await stat(path).then(
    (s) => s.mode & 0o777 & ~(opts.clearModeBits ?? 0),
    () => opts.newFileMode,
  );
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  // Make the rename itself durable. Some platforms cannot open a directory for fsync: best effort.
  const dh = await open(dir, 'r').catch(() => null);
  if (dh)
    await dh
      .sync()
      .catch(() => undefined)
      .finally(() => dh.close());
}

import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseDevices, type DeviceFileError, type DeviceRecord } from './registry.js';

export type DevicesReload =
  | { readonly ok: true; readonly devices: ReadonlyMap<string, DeviceRecord>; readonly missing: boolean }
  | { readonly ok: false; readonly errors: readonly DeviceFileError[] };

export interface DevicesWatcherOptions {
  readonly path: string;
  /** Called after each change of the file's content: the new registry, or the errors (the old one stays). */
  readonly onChange: (reload: DevicesReload) => void;
  /** Quiet time after the last file event before re-reading, so a burst of writes is read once. */
  readonly debounceMs?: number;
  /** Called when onChange throws or the directory watch fails; the watcher keeps running. */
  readonly onError?: (err: unknown) => void;
}

/**
 * Hot reload of the registry. Watches the *directory* and filters by name, because the CLI (and editors) replace
 * the file by rename, which ends a watch on the old inode; a removed file reads as an empty registry, so removing
 * the file revokes every device. Reloads whose content hash equals the last one are dropped.
 */
export class DevicesFileWatcher {
  private readonly path: string;
  private readonly debounceMs: number;
  private fsWatcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastHash: string | null = null;

  constructor(private readonly opts: DevicesWatcherOptions) {
    this.path = resolve(opts.path);
    this.debounceMs = opts.debounceMs ?? 200;
  }

  /** Reads the file once (returned, onChange not called: the caller decides if an invalid file is fatal) and watches. */
  start(): DevicesReload {
    const first = this.read();
    const name = basename(this.path);
    try {
      this.fsWatcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        if (file === null || file.toString() === name) this.schedule();
      });
      this.fsWatcher.on('error', (err) => this.opts.onError?.(err));
    } catch (err) {
      this.opts.onError?.(err);
    }
    return first;
  }

  /** Re-reads now, bypassing the debounce; calls onChange only when the content changed. */
  reload(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const before = this.lastHash;
    const result = this.read();
    if (this.lastHash === before) return;
    try {
      this.opts.onChange(result);
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.fsWatcher?.close();
    this.fsWatcher = null;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), this.debounceMs);
    this.timer.unref();
  }

  private read(): DevicesReload {
    let text: string | null;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.lastHash = `error:${(err as Error).message}`;
        return { ok: false, errors: [{ path: '(file)', message: `cannot read: ${(err as Error).message}` }] };
      }
      text = null;
    }
    this.lastHash = text === null ? 'missing' : createHash('sha256').update(text).digest('hex');
    if (text === null) return { ok: true, devices: new Map(), missing: true };
    const parsed = parseDevices(text);
    return parsed.ok ? { ok: true, devices: parsed.devices, missing: false } : parsed;
  }
}

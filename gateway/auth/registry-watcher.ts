import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { FileWatch, type FileRead } from '../config/file-watch.js';
import { parseDevices, type DeviceFileError, type DeviceRecord } from './registry.js';
import { readBoundedText } from '../config/read-bounded.js';

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
 * Hot reload of the registry, on the shared FileWatch mechanism (directory watch robust to rename-writes by the
 * CLI and editors, debounce, unchanged content dropped, errors contained). A removed file reads as an empty
 * registry, so removing the file revokes every device.
 */
export class DevicesFileWatcher {
  private readonly path: string;
  private readonly watch: FileWatch<DevicesReload>;

  constructor(opts: DevicesWatcherOptions) {
    this.path = resolve(opts.path);
    this.watch = new FileWatch({
      path: opts.path,
      debounceMs: opts.debounceMs ?? 200,
      read: () => this.read(),
      onChange: opts.onChange,
      onError: opts.onError,
    });
  }

  /** Reads the file once (returned, onChange not called: the caller decides if an invalid file is fatal) and watches. */
  start(): DevicesReload {
    return this.watch.start();
  }

  /** Re-reads now, bypassing the debounce; calls onChange only when the content changed. */
  reload(): void {
    this.watch.reload();
  }

  close(): void {
    this.watch.close();
  }

  /** Keyed by content hash, 'missing', or the read error, so a repeated identical failure is reported once. */
  private read(): FileRead<DevicesReload> {
    let text: string;
    try {
      text = readBoundedText(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { key: 'missing', value: { ok: true, devices: new Map(), missing: true } };
      const message = (err as Error).message;
      return { key: `error:${message}`, value: { ok: false, errors: [{ path: '(file)', message: `cannot read: ${message}` }] } };
    }
    const parsed = parseDevices(text);
    return {
      key: createHash('sha256').update(text).digest('hex'),
      value: parsed.ok ? { ok: true, devices: parsed.devices, missing: false } : parsed,
    };
  }
}

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** One read of the watched file: what the owner makes of it, and a key naming the content that was read. */
export interface FileRead<T> {
  readonly value: T;
  /**
   * Equal keys mean equal content (a hash of the text, 'missing', ...): a reload whose key equals the previous
   * read's is dropped. null means "cannot tell" (e.g. unreadable): such a reload is always reported.
   */
  readonly key: string | null;
}

export interface FileWatchOptions<T> {
  readonly path: string;
  /** Reads and interprets the file. Must not throw: an unreadable or invalid file is a value like any other. */
  readonly read: () => FileRead<T>;
  /** Called with each read whose content differs from the previous read's. */
  readonly onChange: (value: T) => void;
  /** Quiet time after the last file event before re-reading, so a burst of writes is read once. */
  readonly debounceMs: number;
  /** Called when onChange throws or the directory watch fails; the watch keeps running. */
  readonly onError?: (err: unknown) => void;
}

/**
 * The hot-reload mechanism shared by the rules file and the devices file watchers. It watches the *directory*
 * and filters by file name, because editors and writeFileAtomic replace the file by rename, which ends a watch
 * on the old inode. File events are debounced; a read whose key equals the previous one is dropped (so an
 * atomic write followed by reload() and then its watch event yields one callback). Errors are contained:
 * a throwing read or onChange, or a failing watch, goes to onError, never to the caller or the event loop.
 * Timers and the watch are unref'd / non-persistent: they never keep the process alive.
 */
export class FileWatch<T> {
  private readonly path: string;
  private fsWatcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastKey: string | null = null;

  constructor(private readonly opts: FileWatchOptions<T>) {
    this.path = resolve(opts.path);
  }

  /**
   * Reads the file once (onChange is not called: the caller decides whether an invalid file at startup is
   * fatal) and starts watching. Returns that first value.
   */
  start(): T {
    const first = this.read();
    const name = basename(this.path);
    try {
      this.fsWatcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        // Some platforms omit the name; then any event in the directory triggers a (cheap, deduplicated) re-read.
        if (file === null || file.toString() === name) this.schedule();
      });
      this.fsWatcher.on('error', (err) => this.opts.onError?.(err));
    } catch (err) {
      // E.g. the directory does not exist: the first read already says so; hot reload is then unavailable.
      this.opts.onError?.(err);
    }
    return first;
  }

  /** Re-reads now, bypassing the debounce; calls onChange only when the content changed. */
  reload(): void {
    this.cancel();
    const before = this.lastKey;
    try {
      // read() must not throw; if it does anyway (a bug), it is contained like a throwing onChange: this runs
      // from a timer, where an exception would end the process, and the last good content stays in force.
      const value = this.read();
      if (this.lastKey !== null && this.lastKey === before) return;
      this.opts.onChange(value);
    } catch (err) {
      this.opts.onError?.(err);
    }
  }

  close(): void {
    this.cancel();
    this.fsWatcher?.close();
    this.fsWatcher = null;
  }

  private read(): T {
    const { value, key } = this.opts.read();
    this.lastKey = key;
    return value;
  }

  private cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    this.cancel();
    this.timer = setTimeout(() => this.reload(), this.opts.debounceMs);
    this.timer.unref();
  }
}

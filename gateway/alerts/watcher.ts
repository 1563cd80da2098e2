import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { loadRulesFile, type LoadedRules } from './rules-file.js';
import type { AlertRule, RuleError } from './types.js';

/** What /health and the admin API show about the rules file. */
export interface RulesLoadStatus {
  readonly source: string;
  /** Gateway time when the rules now running were loaded; null if no valid file was ever loaded. */
  readonly loadedAt: number | null;
  /** ETag of the file text the running rules came from. */
  readonly etag: string | null;
  readonly ruleCount: number;
  /** Problems of the last load attempt; empty when it succeeded. Non-empty means the old rules keep running. */
  readonly errors: readonly RuleError[];
  /** Gateway time of the last load attempt. */
  readonly checkedAt: number | null;
}

export type RulesChange =
  | { readonly ok: true; readonly rules: readonly AlertRule[]; readonly status: RulesLoadStatus }
  | { readonly ok: false; readonly errors: readonly RuleError[]; readonly status: RulesLoadStatus };

export interface RulesWatcherOptions {
  readonly path: string;
  /** Called after each change of the file's text: new valid rules, or the errors (old rules keep running). */
  readonly onChange: (change: RulesChange) => void;
  /** Quiet time after the last file event before re-reading, so a burst of editor writes is read once. */
  readonly debounceMs?: number;
  readonly now?: () => number;
  /** Called when onChange throws or the directory watch fails; the watcher keeps running. */
  readonly onError?: (err: unknown) => void;
}

/**
 * Watches the rules file for hot reload. It watches the *directory* and filters by file name, because
 * editors and writeRulesFileAtomic replace the file by rename, which ends a watch on the file's inode.
 * Events are debounced, and a reload whose text equals the last one read is dropped (an atomic PUT
 * followed by reload() and then the watch event yields one callback).
 */
export class RulesFileWatcher {
  private readonly path: string;
  private readonly debounceMs: number;
  private readonly now: () => number;
  private fsWatcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastEtag: string | null = null;
  private current: RulesLoadStatus;

  constructor(private readonly opts: RulesWatcherOptions) {
    this.path = resolve(opts.path);
    this.debounceMs = opts.debounceMs ?? 150;
    this.now = opts.now ?? Date.now;
    this.current = { source: opts.path, loadedAt: null, etag: null, ruleCount: 0, errors: [], checkedAt: null };
  }

  /**
   * Loads the file once (synchronously, without calling onChange: the caller decides whether an invalid file
   * at startup is fatal) and starts watching. Returns that first result.
   */
  start(): LoadedRules {
    const first = this.load();
    const name = basename(this.path);
    try {
      this.fsWatcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        // Some platforms omit the name; then any event in the directory triggers a (cheap, deduplicated) re-read.
        if (file === null || file.toString() === name) this.schedule();
      });
      this.fsWatcher.on('error', (err) => this.opts.onError?.(err));
    } catch (err) {
      // E.g. the directory does not exist: the first result already says so; hot reload is then unavailable.
      this.opts.onError?.(err);
    }
    return first;
  }

  status(): RulesLoadStatus {
    return this.current;
  }

  /** Re-reads now (e.g. right after PUT /api/thresholds wrote the file), bypassing the debounce. */
  reload(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const before = this.lastEtag;
    const result = this.load();
    if (result.etag !== null && result.etag === before) return;
    const change: RulesChange = result.ok
      ? { ok: true, rules: result.rules, status: this.current }
      : { ok: false, errors: result.errors, status: this.current };
    try {
      this.opts.onChange(change);
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

  private load(): LoadedRules {
    const result = loadRulesFile(this.path);
    const t = this.now();
    this.lastEtag = result.etag;
    this.current = result.ok
      ? { source: this.opts.path, loadedAt: t, etag: result.etag, ruleCount: result.rules.length, errors: [], checkedAt: t }
      : { ...this.current, errors: result.errors, checkedAt: t };
    return result;
  }
}

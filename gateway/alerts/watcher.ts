import { resolve } from 'node:path';
import { FileWatch } from '../config/file-watch.js';
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
 * Watches the rules file for hot reload (the mechanism, shared with the devices file, is FileWatch: directory
 * watch robust to rename-writes, debounce, a reload with unchanged text dropped, errors contained). This class
 * adds what is specific to rules: the load status for /health and the admin API, and the RulesChange shape.
 */
export class RulesFileWatcher {
  private readonly path: string;
  private readonly now: () => number;
  private readonly watch: FileWatch<LoadedRules>;
  private current: RulesLoadStatus;

  constructor(private readonly opts: RulesWatcherOptions) {
    this.path = resolve(opts.path);
    this.now = opts.now ?? Date.now;
    this.current = { source: opts.path, loadedAt: null, etag: null, ruleCount: 0, errors: [], checkedAt: null };
    this.watch = new FileWatch({
      path: opts.path,
      debounceMs: opts.debounceMs ?? 150,
      // An unreadable file has no ETag: every such reload is reported.
      read: () => {
        const value = this.load();
        return { value, key: value.etag };
      },
      onChange: (result) =>
        opts.onChange(result.ok ? { ok: true, rules: result.rules, status: this.current } : { ok: false, errors: result.errors, status: this.current }),
      onError: opts.onError,
    });
  }

  /**
   * Loads the file once (synchronously, without calling onChange: the caller decides whether an invalid file
   * at startup is fatal) and starts watching. Returns that first result.
   */
  start(): LoadedRules {
    return this.watch.start();
  }

  status(): RulesLoadStatus {
    return this.current;
  }

  /** Re-reads now (e.g. right after PUT /api/thresholds wrote the file), bypassing the debounce. */
  reload(): void {
    this.watch.reload();
  }

  close(): void {
    this.watch.close();
  }

  private load(): LoadedRules {
    const result = loadRulesFile(this.path);
    const t = this.now();
    this.current = result.ok
      ? { source: this.opts.path, loadedAt: t, etag: result.etag, ruleCount: result.rules.length, errors: [], checkedAt: t }
      : { ...this.current, errors: result.errors, checkedAt: t };
    return result;
  }
}

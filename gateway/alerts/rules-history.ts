import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../config/atomic-write.js';
import type { Logger } from '../log.js';

/**
 * The last versions of the rules file, kept in the data folder (`<buffer.dir>/rules-history/`), so that an edit
 * can be taken back: every distinct content the gateway has seen (at start, after each save through the API,
 * after an edit on disk) is one file `<savedAt>-<hash>.yaml`; the oldest beyond `keep` are deleted.
 * The rules file itself stays the one source of truth: going back to a version is an ordinary validated save
 * of its text (thresholds API), which then becomes the newest version.
 *
 * Called from the admin plugin on each request to the history and after each save; `check()` is a file read
 * and a hash comparison when nothing changed.
 */
export interface RulesVersion {
  /** `<savedAt>-<hash>`: sorts by time. */
  readonly id: string;
  /** When the gateway first saw this content (epoch ms). */
  readonly savedAt: number;
  /** The content's ETag (as GET /api/thresholds gives it). */
  readonly etag: string;
  readonly bytes: number;
}

export interface RulesHistoryOptions {
  readonly dir: string;
  readonly keep: number;
  readonly now: () => number;
  /** The rules file now, with its ETag; undefined when it cannot be read. */
  readonly current: () => { text: string; etag: string } | undefined;
  readonly log: Logger;
}

/** Versions kept; the oldest beyond are deleted (a rules file is a few kB). */
export const RULES_VERSIONS_KEPT = 20;

const ID = /^(\d{13})-([0-9a-f]{32})$/;

export class RulesHistory {
  private lastEtag: string | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly opts: RulesHistoryOptions) {}

  /** Records the current content when it differs from the newest version. Never throws (logs). One at a time. */
  check(): Promise<void> {
    this.queue = this.queue.then(() => this.checkNow());
    return this.queue;
  }

  private async checkNow(): Promise<void> {
    const cur = this.opts.current();
    if (cur === undefined || cur.etag === this.lastEtag) return;
    try {
      mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 }); // owner-only, like the rest of the data folder
      const hash = cur.etag.replaceAll('"', '');
      const newest = this.list()[0];
      if (newest?.etag !== cur.etag) {
        await writeFileAtomic(join(this.opts.dir, `${this.opts.now()}-${hash}.yaml`), cur.text, { newFileMode: 0o600 });
        for (const old of this.list().slice(this.opts.keep)) rmSync(join(this.opts.dir, `${old.id}.yaml`), { force: true });
      }
      this.lastEtag = cur.etag;
    } catch (err) {
      this.opts.log.warn({ err, dir: this.opts.dir }, 'rules history: could not record a version');
    }
  }

  /** Newest first. */
  list(): RulesVersion[] {
    let names: string[];
    try {
      names = readdirSync(this.opts.dir);
    } catch {
      return [];
    }
    const out: RulesVersion[] = [];
    for (const name of names) {
      const m = ID.exec(name.replace(/\.yaml$/, ''));
      if (m === null || !name.endsWith('.yaml')) continue;
      out.push({ id: `${m[1]}-${m[2]}`, savedAt: Number(m[1]), etag: `"${m[2]}"`, bytes: statSync(join(this.opts.dir, name)).size });
    }
    return out.sort((a, b) => b.savedAt - a.savedAt || (a.id < b.id ? 1 : -1));
  }

  /** The text of a version; undefined for an id that is malformed or not kept. */
  text(id: string): string | undefined {
    if (!ID.test(id)) return undefined;
    try {
      return readFileSync(join(this.opts.dir, `${id}.yaml`), 'utf8');
    } catch {
      return undefined;
    }
  }
}

import { join } from 'node:path';
import type { Logger } from '../log.js';
import { openDatabase, type SqliteDatabase, type SyncMode } from '../outbox/db.js';

/**
 * The state that lives in memory between emissions: open windows, retained aggregates for corrections, dedup
 * keys (the pipeline snapshot) and alert state. Kept as opaque JSON values here: each part validates its own
 * snapshot when it restores it.
 */
export interface Checkpoint {
  readonly pipeline: unknown;
  readonly alerts: unknown;
  readonly savedAt: number;
}

/** Where checkpoints live (SQLite today; a JetStream-backed store later, see ROADMAP). */
export interface CheckpointStore {
  /** The last saved checkpoint, if any. */
  load(): Checkpoint | undefined;
  save(cp: Checkpoint): void;
  /**
   * Forgets the checkpoint. Called right after a restore: a checkpoint restored once must never be restored
   * again, or a crash later would replay stale windows over newer ones.
   */
  clear(): void;
  close(): void;
}

export const STATE_FILE = 'state.db';

export class SqliteCheckpointStore implements CheckpointStore {
  private readonly db: SqliteDatabase;

  constructor(opts: { dir: string; sync: SyncMode; log: Logger }) {
    this.db = openDatabase({
      file: join(opts.dir, STATE_FILE),
      sync: opts.sync,
      log: opts.log,
      migrate: (db) => db.exec('CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 1), saved_at INTEGER NOT NULL, body TEXT NOT NULL)'),
    }).db;
  }

  load(): Checkpoint | undefined {
    const row = this.db.prepare('SELECT saved_at, body FROM checkpoint WHERE id = 1').get() as { saved_at: number; body: string } | undefined;
    if (!row) return undefined;
    const body = JSON.parse(row.body) as { pipeline?: unknown; alerts?: unknown };
    return { pipeline: body.pipeline, alerts: body.alerts, savedAt: row.saved_at };
  }

  save(cp: Checkpoint): void {
    this.db
      .prepare('INSERT INTO checkpoint (id, saved_at, body) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET saved_at = excluded.saved_at, body = excluded.body')
      .run(cp.savedAt, JSON.stringify({ pipeline: cp.pipeline, alerts: cp.alerts }));
  }

  clear(): void {
    this.db.prepare('DELETE FROM checkpoint').run();
  }

  close(): void {
    this.db.close();
  }
}

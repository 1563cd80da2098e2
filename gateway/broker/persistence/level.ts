import { chmodSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import aedesPersistenceLevel from 'aedes-persistence-level';
import { ClassicLevel } from 'classic-level';
import { RateLimitedLog, type Logger } from '../../log.js';
import { boundSessionQueues } from './bounded-queues.js';
import type { OpenedPersistence, SessionLimits } from './opened.js';

const codeOf = (err: unknown): string | undefined => {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const c = e?.cause?.code ?? e?.code;
  return typeof c === 'string' ? c : undefined;
};

async function openLevel(dir: string): Promise<ClassicLevel<string, unknown>> {
  // aedes-persistence-level names the value encoding on every call.
  const db = new ClassicLevel<string, unknown>(dir);
  await db.open();
  return db;
}

/** mqtt.sessions `disk` (open.ts): aedes-persistence-level on classic-level in `dir`, owner-only (0700). */
export async function openLevelPersistence(dir: string, log: Logger, limits: SessionLimits | undefined, now: () => number): Promise<OpenedPersistence> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700); // also when it existed: sessions may hold other clients' messages
  let db: ClassicLevel<string, unknown>;
  try {
    db = await openLevel(dir);
  } catch (err) {
    // LEVEL_LOCKED (another gateway on this folder) is a configuration error: let the start fail.
    if (codeOf(err) !== 'LEVEL_CORRUPTION' || !existsSync(dir)) throw err;
    const movedAside = `${dir}.corrupt-${new Date(now()).toISOString().replace(/[:.]/g, '-')}`;
    renameSync(dir, movedAside);
    log.error(
      { dir, movedAside, err: (err as Error).message },
      'broker session store is corrupt: moved it aside and started an empty one; persistent sessions and retained messages are lost',
    );
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    db = await openLevel(dir);
  }
  const persistence = aedesPersistenceLevel(db);
  if (limits) {
    const full = new RateLimitedLog(log);
    boundSessionQueues(persistence, limits.maxQueuedPerSession, (clientId) => {
      limits.onQueueFull();
      full.warn(
        `queue:${clientId}`,
        { clientId, max: limits.maxQueuedPerSession, reason: 'session_queue_full' },
        'persistent session queue full: newest message not queued for it (mqtt.maxQueuedPerSession)',
      );
    });
  }
  return {
    persistence,
    async close() {
      await persistence.destroy();
    },
  };
}

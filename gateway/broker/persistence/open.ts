import { chmodSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import aedesPersistenceLevel, { type LevelPersistence } from 'aedes-persistence-level';
import { ClassicLevel } from 'classic-level';
import { RateLimitedLog, type Logger } from '../../log.js';
import { boundSessionQueues } from './bounded-queues.js';

/**
 * Where aedes keeps its state: the subscriptions of persistent sessions (clean=false [MQTT-3.1.2-4]), the QoS 1/2
 * messages queued for them while they are away [MQTT-3.1.2-5], retained messages [MQTT-3.3.1-5] and wills.
 *
 * - `disk` (mqtt.sessions default): aedes-persistence-level (the aedes project's own LevelDB persistence, which
 *   passes aedes-persistence's abstract suite) on classic-level, in `{buffer.dir}/broker/`, owner-only (0700).
 *   Each write reaches the operating system before aedes goes on, so a SIGKILL of the gateway loses nothing that
 *   was stored; LevelDB does not fsync, so a power cut may (docs/mqtt.md).
 * - `memory`: aedes' default; everything is gone at a restart.
 *
 * Opened where aedes runs (the broker thread, or the gateway's thread), closed after aedes: aedes.close() leaves
 * its persistence open, and LevelDB holds a lock on the folder until it is closed.
 */
export type SessionStore = 'disk' | 'memory';

export const BROKER_STATE_DIR = 'broker';

export interface OpenedPersistence {
  /** For aedes' `persistence` option; undefined = aedes' in-memory default. */
  readonly persistence: LevelPersistence | undefined;
  close(): Promise<void>;
}

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

export interface SessionLimits {
  /** mqtt.maxQueuedPerSession: messages stored for one persistent session (bounded-queues.ts). */
  readonly maxQueuedPerSession: number;
  /** Counts a message a full session did not get (gateway_mqtt_refused_total{reason="session_queue_full"}). */
  readonly onQueueFull: () => void;
}

export async function openBrokerPersistence(
  store: SessionStore,
  bufferDir: string,
  log: Logger,
  limits?: SessionLimits,
  now: () => number = Date.now,
): Promise<OpenedPersistence> {
  if (store === 'memory') return { persistence: undefined, close: async () => undefined };
  const dir = join(bufferDir, BROKER_STATE_DIR);
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

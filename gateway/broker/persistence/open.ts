import { join } from 'node:path';
import type { Logger } from '../../log.js';
import type { OpenedPersistence, SessionLimits } from './opened.js';

/**
 * Where aedes keeps its state: the subscriptions of persistent sessions (clean=false [MQTT-3.1.2-4]), the QoS 1/2
 * messages queued for them while they are away [MQTT-3.1.2-5], retained messages [MQTT-3.3.1-5] and wills.
 *
 * - `disk`: aedes-persistence-level (the aedes project's own LevelDB persistence, which
 *   passes aedes-persistence's abstract suite) on classic-level, in `{buffer.dir}/broker/`, owner-only (0700).
 *   Each write reaches the operating system before aedes goes on, so a SIGKILL of the gateway loses nothing that
 *   was stored; LevelDB does not fsync, so a power cut may (docs/mqtt.md).
 * - `memory` (mqtt.sessions default): aedes' own; everything is gone at a restart. The default, because with
 *   `disk` a live QoS 1 delivery to a connected subscriber is now and then lost (docs/mqtt.md).
 *
 * Opened where aedes runs (the broker thread, or the gateway's thread), closed after aedes: aedes.close() leaves
 * its persistence open, and LevelDB holds a lock on the folder until it is closed.
 */
export type SessionStore = 'disk' | 'memory';

export const BROKER_STATE_DIR = 'broker';

export type { OpenedPersistence, SessionLimits } from './opened.js';

export async function openBrokerPersistence(
  store: SessionStore,
  bufferDir: string,
  log: Logger,
  limits?: SessionLimits,
  now: () => number = Date.now,
): Promise<OpenedPersistence> {
  if (store === 'memory') return { persistence: undefined, close: async () => undefined };
  // The LevelDB modules (classic-level's native addon among them) load only for the disk store: with `memory`
  // they are not on the way to the first CONNACK (BENCHMARKS.md, start-up).
  return (await import('./level.js')).openLevelPersistence(join(bufferDir, BROKER_STATE_DIR), log, limits, now);
}

import { mkdirSync } from 'node:fs';
import type { Logger } from '../log.js';
import { lockDataDir, type DataDirLock } from './lock.js';
import { tightenDataDir } from './permissions.js';

/**
 * Claims the gateway's data folder (`buffer.dir`) for this process before anything in it is read: creates it
 * owner-only (0700) when missing, takes its exclusive lock (throws DataDirLockedError, having changed nothing, when
 * another process holds it), then makes what is in it owner-only. buildGateway calls it first and releases the
 * lock after its last write at stop; the OS releases it when the process dies.
 */
export function openDataDir(dir: string, deps: { log: Logger; now?: () => number }): DataDirLock {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = lockDataDir(dir, deps.now ? { now: deps.now } : {});
  try {
    tightenDataDir(dir, deps.log);
  } catch (err) {
    lock.release();
    throw err;
  }
  return lock;
}

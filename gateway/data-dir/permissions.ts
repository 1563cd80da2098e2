import { chmodSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../log.js';

/** Mode bits of group and others: none of them on the data folder or the gateway's files in it. */
const GROUP_OTHER = 0o077;

/**
 * The gateway's own files in `buffer.dir`: state.db and outbox.db with their -wal/-shm/-journal, copies moved aside
 * as corrupt or unknown (`outbox.db.corrupt-<time>[-wal]`, persist/sqlite.ts), the lock and its holder file (lock.ts).
 */
const GATEWAY_FILE = /^(?:(?:state|outbox)\.db(?:\.(?:corrupt|unknown)-[^/]*)?(?:-wal|-shm|-journal)?|gateway\.lock(?:\.json(?:\.\d+\.tmp)?)?)$/;

/**
 * The gateway's own folders in `buffer.dir`: the broker's session store (mqtt.sessions: disk, LevelDB files, flat)
 * and copies of it moved aside as corrupt (broker/persistence/open.ts). They hold persistent sessions' queued
 * messages (other devices' readings) and retained messages; and `rules-history/`, the last versions of the rules
 * file (alerts/rules-history.ts). Each folder and each file in it are tightened too.
 */
const GATEWAY_DIR = /^(?:broker(?:\.corrupt-[^/]*)?|rules-history)$/;

const isGateways = (e: Dirent) => (e.isFile() && GATEWAY_FILE.test(e.name)) || (e.isDirectory() && GATEWAY_DIR.test(e.name));

/**
 * Makes the data folder owner-only: every gateway file in it (above) loses its group/other bits (0600 for the
 * database files), and so does the folder (0700) when it holds nothing else. The files hold every reading not yet in
 * InfluxDB and the pipeline's state; nothing else on the machine needs to read them. New files are created
 * owner-only (persist/sqlite.ts, lock.ts); this tightens what an older version or another tool left, logged once
 * per start. A folder shared with other files (`buffer.dir: .`) keeps its mode, with a warning: changing it could
 * lock others out of their files. A chmod that fails (a file of another user) is logged, not fatal.
 *
 * Runs only while holding the folder's lock: a second start that finds the folder held changes nothing in it.
 * Uses stat and chmod only: opening and closing the lock file here would drop the lock (see lock.ts).
 */
export function tightenDataDir(dir: string, log: Logger): void {
  const tightened: string[] = [];
  const failed: string[] = [];
  const tighten = (path: string, name: string) => {
    let mode: number;
    try {
      mode = statSync(path).mode & 0o7777;
    } catch {
      return; // gone meanwhile
    }
    if ((mode & GROUP_OTHER) === 0) return;
    try {
      chmodSync(path, mode & ~GROUP_OTHER);
      tightened.push(`${name} ${(mode & 0o777).toString(8)} -> ${(mode & ~GROUP_OTHER & 0o777).toString(8)}`);
    } catch (err) {
      failed.push(`${name}: ${(err as Error).message}`);
    }
  };
  const entries = readdirSync(dir, { withFileTypes: true });
  const others = entries.filter((e) => !isGateways(e)).map((e) => e.name);
  if (others.length === 0) tighten(dir, '.');
  else if ((statSync(dir).mode & GROUP_OTHER) !== 0) {
    log.warn(
      { dir, others: others.slice(0, 10) },
      'data folder is readable by others and holds other files: its mode is left as it is (give the gateway a folder of its own)',
    );
  }
  for (const e of entries) {
    if (!isGateways(e)) continue;
    tighten(join(dir, e.name), e.name);
    if (!e.isDirectory()) continue;
    let inner: Dirent[];
    try {
      inner = readdirSync(join(dir, e.name), { withFileTypes: true });
    } catch (err) {
      failed.push(`${e.name}: ${(err as Error).message}`);
      continue;
    }
    for (const f of inner) if (f.isFile()) tighten(join(dir, e.name, f.name), `${e.name}/${f.name}`);
  }
  if (tightened.length > 0) log.warn({ dir, tightened }, 'data folder was readable by others: made it and its files owner-only');
  if (failed.length > 0) log.error({ dir, failed }, 'could not make the data folder owner-only');
}

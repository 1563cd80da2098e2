/** The model the dedup key stores (key-ring.ts, seen-keys.ts) are held to: a sorted array of unique keys. */

/** Inserts ts in order; false if it is there already (=== : -0 and 0 are one key). */
export function modelInsert(m: number[], ts: number): boolean {
  let i = 0;
  while (i < m.length && m[i]! < ts) i++;
  if (m[i] === ts) return false;
  m.splice(i, 0, ts);
  return true;
}

/** Drops the keys below cutoff; returns how many. */
export function modelEvict(m: number[], cutoff: number): number {
  let i = 0;
  while (i < m.length && m[i]! < cutoff) i++;
  m.splice(0, i);
  return i;
}

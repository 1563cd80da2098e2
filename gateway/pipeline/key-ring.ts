/**
 * The dedup keys of one sensor that are not part of an arithmetic run (seen-keys.ts: irregular, jittered,
 * out-of-order or non-integer keys, and the first two keys of a run not yet formed) as a ring of ascending doubles
 * in one plain JS array, whose length is the ring's capacity. Called for every device-stamped reading, so the
 * fields live on SensorState (state.ts) rather than in an object of their own (~48 B more per sensor).
 *
 * Why this shape (BENCHMARKS.md "Dedup keys as a ring"): at 1 Hz and a 1m horizon a sensor holds ~61
 * keys (488 B). The former push-at-the-end array evicted by advancing a head index and compacted only once the
 * dead head outweighed the rest, so it held up to twice the live keys plus V8's growth slack (1.5x + 16):
 * ~1.1-1.6 KB per sensor. The ring reuses the evicted slots, grows by 1/8 (+4) and is shrunk once eviction
 * leaves it a third empty, so it holds at most ~1/8 + 4 slots of slack in a steady state. A plain array of
 * doubles costs 48 B besides its 8 B per slot; a Float64Array costs ~190 B (object, ArrayBuffer, backing store
 * bookkeeping), which is more than the slack it would save at these sizes.
 *
 * Cost: an in-order key (the common case) is O(1), an out-of-order one a binary search and a shift of the keys
 * after it (few: late readings are usually recent), eviction O(keys evicted); growing and shrinking copy the
 * keys and are amortised over at least 1/8 of the capacity's insertions.
 */
export interface KeyRing {
  /** The ring; its length is the capacity. Slots outside [seenHead, seenHead + seenCount) hold stale values. */
  seen: number[];
  /** Slot of the smallest key. */
  seenHead: number;
  seenCount: number;
}

/** The ring of a sensor with no keys: capacity 0, so the first insert allocates. Never written to. */
export const NO_KEYS: number[] = [];

/** Number of dedup keys held. */
export function ringSize(s: KeyRing): number {
  return s.seenCount;
}

/** The i-th smallest key, 0 <= i < ringSize(s). */
export function ringAt(s: KeyRing, i: number): number {
  const a = s.seen;
  let at = s.seenHead + i;
  if (at >= a.length) at -= a.length;
  return a[at] as number;
}

/** Ring slot of the i-th smallest key (for readers that take an array and an index, like ByteWriter.numAt). */
export function ringSlot(s: KeyRing, i: number): number {
  const at = s.seenHead + i;
  return at >= s.seen.length ? at - s.seen.length : at;
}

/** The keys ascending, as a new array (snapshots of the JSON formats, tests). */
export function ringKeys(s: KeyRing): number[] {
  const out = new Array<number>(s.seenCount);
  for (let i = 0; i < s.seenCount; i++) out[i] = ringAt(s, i);
  return out;
}

/** Replaces the keys with `keys` (ascending, unique: the caller checks), e.g. on restore. */
export function loadRing(s: KeyRing, keys: readonly number[]): void {
  const n = keys.length;
  const a = n === 0 ? NO_KEYS : doubles(n + (n >> 3) + 4);
  for (let i = 0; i < n; i++) a[i] = keys[i] as number;
  s.seen = a;
  s.seenHead = 0;
  s.seenCount = n;
}

/** Records ts as seen; false if it already was (a duplicate). */
export function ringInsert(s: KeyRing, ts: number): boolean {
  let a = s.seen;
  const n = s.seenCount;
  if (n > 0) {
    let last = s.seenHead + n - 1;
    if (last >= a.length) last -= a.length;
    if (!(ts > (a[last] as number))) return insertInside(s, ts);
  }
  if (n === a.length) a = resize(s, n + (n >> 3) + 4);
  let at = s.seenHead + n;
  if (at >= a.length) at -= a.length;
  a[at] = ts; // in-order arrival: the common case
  s.seenCount = n + 1;
  return true;
}

/** The greatest key; the ring must not be empty. */
export function ringLast(s: KeyRing): number {
  return ringAt(s, s.seenCount - 1);
}

/** Whether ts is one of the keys (binary search). */
export function ringHas(s: KeyRing, ts: number): boolean {
  let lo = 0;
  let hi = s.seenCount;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ringAt(s, mid) < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo < s.seenCount && ringAt(s, lo) === ts;
}

/** Forgets the `k` greatest keys (they became a run); an emptied ring gives its array back. */
export function ringDropLast(s: KeyRing, k: number): void {
  s.seenCount -= k;
  if (s.seenCount === 0) {
    s.seen = NO_KEYS;
    s.seenHead = 0;
  }
}

/** ts <= the greatest key: a duplicate, or a key that goes before some others (the rest shift up by one). */
function insertInside(s: KeyRing, ts: number): boolean {
  const n = s.seenCount;
  let lo = 0;
  let hi = n - 1; // ts <= the greatest key, so its place is < n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ringAt(s, mid) < ts) lo = mid + 1;
    else hi = mid;
  }
  if (ringAt(s, lo) === ts) return false;
  const a = n === s.seen.length ? resize(s, n + (n >> 3) + 4) : s.seen;
  const cap = a.length;
  let j = s.seenHead + n; // the free slot after the greatest key
  if (j >= cap) j -= cap;
  for (let k = n; k > lo; k--) {
    const i = j === 0 ? cap - 1 : j - 1;
    a[j] = a[i] as number;
    j = i;
  }
  a[j] = ts;
  s.seenCount = n + 1;
  return true;
}

/** Forgets keys below `cutoff`; returns how many. Shrinks the ring once it is more than a third empty. */
export function ringEvict(s: KeyRing, cutoff: number): number {
  const a = s.seen;
  const cap = a.length;
  const n0 = s.seenCount;
  let h = s.seenHead;
  let n = n0;
  while (n > 0 && (a[h] as number) < cutoff) {
    if (++h === cap) h = 0;
    n--;
  }
  s.seenHead = h;
  s.seenCount = n;
  // Past growth's 1/8 + 4 of slack by a margin, so a ring that just grew is never shrunk back at once.
  if (n < n0 && cap > n + (n >> 1) + 8) resize(s, n + (n >> 3) + 4);
  return n0 - n;
}

/** Moves the keys to a new ring of `cap` slots, starting at slot 0; returns it. */
function resize(s: KeyRing, cap: number): number[] {
  const b = doubles(cap);
  for (let i = 0; i < s.seenCount; i++) b[i] = ringAt(s, i);
  s.seen = b;
  s.seenHead = 0;
  return b;
}

/**
 * An array of exactly `n` slots of double elements (V8 allocates the backing store at the given length; filling
 * with a non-integer makes it a double array from the start, so storing keys never converts it).
 */
function doubles(n: number): number[] {
  return new Array<number>(n).fill(0.5);
}

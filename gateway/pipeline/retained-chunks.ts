import { ByteReader } from '../persist/byte-codec.js';
import { HEAD_FIELDS, readHead, skipTail, START } from './window-record.js';

/**
 * The retained windows of a sensor (retained.ts) seen as CHUNKS for incremental checkpoints
 * (docs/durability.md, "Incremental checkpoints"): chunk k holds the records whose start lies in
 * [k * span, (k + 1) * span), span = CHUNK_WINDOWS x the window interval. The chunk of the newest record is the
 * TAIL: it goes into the device's own row, rewritten at every checkpoint that finds the device changed; every
 * older chunk is a row of its own, written only when its bytes change. A steady sensor only ever appends to its
 * tail and evicts from its front, so an older chunk is written once (when the tail moves past it) and deleted
 * once (when eviction has taken all of its records); a correction (late data into a retained window) rewrites the
 * chunk it lands in.
 *
 * What marks a chunk (its id is pushed to the sensor's `chunks` list, once), in retained.ts:
 *  - the tail moves on to a later chunk: the former tail is now a row;
 *  - a record is written, taken out or rewritten (a correction, a window retained before newer ones);
 *  - eviction took every record of a chunk before the tail: its row goes;
 *  - the tail moves back (the newest record taken out): the new tail's row goes (it lives in the device row).
 * A marked chunk is written (its records as they are in memory, bytes unchanged) or, with no record left or being
 * the tail or later, deleted. Evicted records at the front of a chunk are not a change: the bytes of the records
 * left are the same, and restore drops records before the sensor's first retained start.
 *
 * Records keep their encoding relative to the previous record (window-record.ts); a chunk row and the tail carry
 * the start of their first record, so each reads on its own, and restore puts the bytes back together in start
 * order, checking that every chunk's first record decodes to that start after the previous one's last (so the
 * buffer restored is byte for byte the one saved).
 */

/** Windows per chunk: the tail is about half of that on average; a chunk row is written once per CHUNK_WINDOWS windows. */
export const CHUNK_WINDOWS = 8;

/**
 * A pipeline's chunk geometry, shared by its sensors: `ms` is the span of a chunk; `track` turns the marking on
 * (Pipeline.beginDelta: a pipeline that never takes incremental checkpoints keeps no marks, which nothing would
 * take).
 */
export interface ChunkSpan {
  readonly intervalMs: number;
  /** Windows per chunk. */
  readonly windows: number;
  readonly ms: number;
  track: boolean;
}

export const chunkSpan = (intervalMs: number, windows = CHUNK_WINDOWS): ChunkSpan => ({ intervalMs, windows, ms: intervalMs * windows, track: false });

/** The fields retained.ts keeps for the chunks, on SensorState. */
export interface ChunkFields {
  /**
   * Shifts the sensor's chunk boundaries by (chunkPhase mod windows) intervals: window starts are on one grid for
   * every sensor, so without it every sensor's tail would move on to a new chunk in the same checkpoint (a burst
   * of chunk rows every CHUNK_WINDOWS windows); a hash of the device's name spreads them over the checkpoints.
   */
  readonly chunkPhase: number;
  sealed: Buffer;
  sealedBytes: number;
  sealedCount: number;
  sealedFirstStart: number;
  sealedMaxStart: number;
  /** Marked chunk ids, each once; NO_CHUNKS when none. */
  chunks: number[];
  /** Byte offset of the tail's first record, -1 when not known (found again by reading the heads: tailOf). */
  tailAt: number;
  /** Start of the tail's first record (valid with tailAt >= 0). */
  tailStart: number;
}

/** The marks of a sensor with none. Never written to. */
export const NO_CHUNKS: number[] = [];

/** The chunk of the record starting at `start` (the sensor's phase applied). */
export const chunkOf = (s: { readonly chunkPhase: number }, start: number, span: ChunkSpan): number =>
  Math.floor((start + (s.chunkPhase % span.windows) * span.intervalMs) / span.ms);

/**
 * A sensor's chunkPhase: FNV-1a of its device's name (the same after a restart), so that a device's sensors
 * share their chunk boundaries and a chunk of all of them is one row (snapshot-rows.ts).
 */
export function phaseOf(device: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < device.length; i++) h = Math.imul(h ^ device.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Marks chunk `id` of `s` (when the span tracks). */
export function mark(s: ChunkFields, id: number, span: ChunkSpan | undefined): void {
  if (span === undefined || !span.track) return;
  const c = s.chunks;
  if (c === NO_CHUNKS) {
    s.chunks = [id];
    return;
  }
  for (let i = 0; i < c.length; i++) if (c[i] === id) return;
  c.push(id);
}

const F = new Float64Array(HEAD_FIELDS);

/** Makes tailAt / tailStart valid (reads the heads when they are not known); false when no window is retained. */
export function tailOf(s: ChunkFields, span: ChunkSpan, intervalMs: number): boolean {
  if (s.sealedCount === 0) return false;
  if (s.tailAt >= 0) return true;
  const tail = chunkOf(s, s.sealedMaxStart, span);
  const r = new ByteReader(s.sealed, s.sealedBytes);
  let prev = -Infinity;
  for (let k = 0; k < s.sealedCount; k++) {
    const at = r.pos;
    F[START] = k === 0 ? s.sealedFirstStart : prev;
    readHead(r, F, intervalMs, k === 0);
    if (chunkOf(s, F[START]!, span) === tail) {
      s.tailAt = at;
      s.tailStart = F[START]!;
      return true;
    }
    skipTail(r, F);
    prev = F[START]!;
  }
  throw new Error('retained windows: the tail chunk was not found');
}

/**
 * Calls `each(id, from, to, firstStart)` for every chunk before the tail that holds records, in order, with the
 * byte range of its records and the start of its first. `only` (sorted ascending, or null for all): just those ids.
 * Reads the heads up to the last chunk wanted.
 */
export function eachChunk(
  s: ChunkFields,
  span: ChunkSpan,
  intervalMs: number,
  only: readonly number[] | null,
  each: (id: number, from: number, to: number, firstStart: number) => void,
): void {
  if (s.sealedCount === 0) return;
  const tail = chunkOf(s, s.sealedMaxStart, span);
  const last = only === null ? tail - 1 : Math.min(tail - 1, only[only.length - 1]!);
  // Nothing wanted before the tail (the usual marks of a correction in the newest windows are the tail's own
  // chunk, which lives in the device row): no walk over the heads to find nothing.
  if (only !== null && (only.length === 0 || only[0]! > last)) return;
  const r = new ByteReader(s.sealed, s.sealedBytes);
  let prev = -Infinity;
  let id = NaN;
  let from = 0;
  let first = 0;
  let want = false;
  for (let k = 0; k < s.sealedCount; k++) {
    const at = r.pos;
    F[START] = k === 0 ? s.sealedFirstStart : prev;
    readHead(r, F, intervalMs, k === 0);
    const c = chunkOf(s, F[START]!, span);
    if (c !== id) {
      if (want) each(id, from, at, first);
      if (c > last) return;
      id = c;
      from = at;
      first = F[START]!;
      want = only === null || only.includes(c);
    }
    skipTail(r, F);
    prev = F[START]!;
  }
  if (want) each(id, from, s.sealedBytes, first);
}

/** One piece of a sensor's retained records as restore finds it: a chunk row, or the tail of the device row. */
export interface Piece {
  readonly firstStart: number;
  readonly bytes: Buffer;
}

/**
 * The sensor's records from its pieces (any order): sorted by start, records before `firstStart` dropped (the
 * front of a chunk eviction has partly taken), every piece's first record checked to decode after the previous
 * piece's last, `count` records in all. Returns the bytes and the newest start; throws RangeError on anything a
 * checkpoint cannot have written.
 */
export function joinPieces(pieces: Piece[], count: number, firstStart: number, intervalMs: number): { bytes: Buffer; size: number; maxStart: number } {
  pieces.sort((a, b) => a.firstStart - b.firstStart);
  const keep: Buffer[] = [];
  let kept = 0;
  let prev = -Infinity;
  let size = 0;
  for (const p of pieces) {
    const r = new ByteReader(p.bytes, p.bytes.length);
    let from = -1;
    for (let k = 0; r.remaining > 0; k++) {
      const at = r.pos;
      if (k === 0) {
        // Read relative to the previous piece's last record: the start it decodes to there must be the piece's.
        F[START] = kept === 0 ? p.firstStart : prev;
        readHead(r, F, intervalMs, kept === 0);
        if (F[START] !== p.firstStart) throw new RangeError('a chunk of retained windows does not follow the one before');
      } else {
        F[START] = prev;
        readHead(r, F, intervalMs, false);
      }
      const start = F[START]!;
      if (!(start > prev)) throw new RangeError('retained windows not ascending');
      skipTail(r, F);
      prev = start;
      if (start < firstStart) {
        if (kept > 0) throw new RangeError('a retained window before the first');
        continue;
      }
      if (kept === 0 && start !== firstStart) throw new RangeError('the first retained window is missing');
      if (from < 0) from = at;
      kept++;
    }
    if (from < 0) throw new RangeError('a chunk of retained windows that are all evicted');
    keep.push(p.bytes.subarray(from));
    size += p.bytes.length - from;
  }
  if (kept !== count) throw new RangeError(`${kept} retained windows where ${count} were saved`);
  // A buffer of its own with room to append, as retained.ts keeps them (a pooled one would share a slab).
  const bytes = Buffer.allocUnsafeSlow(size + (size >> 3) + 32);
  let at = 0;
  for (const b of keep) at += b.copy(bytes, at);
  return { bytes, size, maxStart: prev };
}

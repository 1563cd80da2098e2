import { ByteReader } from '../persist/byte-codec.js';
import type { Win } from './window.js';
import { type ChunkFields, type ChunkSpan, chunkOf, mark } from './retained-chunks.js';
import { BEFORE, HEAD_FIELDS, readHead, readTail, START, scratch, skipTail, writeWinRecord } from './window-record.js';

/**
 * The windows a sensor retains after emitting them, for corrections by late data: byte records
 * (window-record.ts) back to back in `s.sealed[0, s.sealedBytes)`, sorted by start, outside the V8 heap, with
 * `sealedCount`, `sealedFirstStart` and `sealedMaxStart` kept in step. The Pipeline decides when (watermark,
 * correctionHorizon); these functions keep the records.
 *
 * Why bytes (BENCHMARKS.md "Retained windows as byte records"): at the shipped 15m correction horizon and 10 s
 * windows a sensor retains 90 windows. As flat records of 11+ doubles in a JS array they took ~10 KB per sensor
 * (104 B a window plus the array's growth slack); as byte records 15-70 B a window (integer values and steady
 * windows at the low end, arbitrary doubles at the high end), in a Buffer with 1/8 of slack.
 *
 * Cost: emitting a window appends a record (the common case, O(1)); eviction reads the evicted records' heads
 * and moves the rest of the bytes down (once per window interval per sensor). A correction (late data into a
 * retained window, or the next reading of a sensor that reports less often than the allowed lateness) and a
 * re-emitted window landing before newer ones read the heads up to it (from the tail chunk's first record when it
 * lies there, which it nearly always does), write it (and the record after it, whose start is written relative to
 * its predecessor) and move the bytes after it.
 */

/** The buffer of a sensor with no retained window. Never written to. */
export const NO_RECORDS: Buffer = Buffer.alloc(0);

/**
 * The retained windows of one sensor; the fields live on SensorState (state.ts), as SeenKeys' do. With a
 * ChunkSpan, every change also marks the chunks an incremental checkpoint must write (retained-chunks.ts).
 */
export type RetainedRecords = ChunkFields;
const F = new Float64Array(HEAD_FIELDS);

/** Retains `w` (just emitted) in start order. Usually the newest, so appended. */
export function retain(s: RetainedRecords, w: Win, intervalMs: number, span?: ChunkSpan): void {
  if (w.start > s.sealedMaxStart) {
    append(s, w, intervalMs, span);
    return;
  }
  // Before record k (the first with a greater start): w is written after the previous one, and record k again,
  // now after w (its start was written relative to the previous one's).
  const r = new ByteReader(s.sealed, s.sealedBytes);
  const at = seek(s, r, w.start, intervalMs);
  const next = readTail(r, F);
  scratch.pos = 0;
  writeWinRecord(scratch, w, seekPrev, intervalMs);
  writeWinRecord(scratch, next, w.start, intervalMs);
  splice(s, at, r.pos);
  if (at === 0) s.sealedFirstStart = w.start;
  s.sealedCount++;
  // w's bytes are new and the next record's rewritten; offsets after them moved. Written after the tail's first
  // record, w is in the tail's chunk (it is not the newest): the tail still begins where it did.
  if (at <= s.tailAt) s.tailAt = -1;
  if (span !== undefined) {
    mark(s, chunkOf(s, w.start, span), span);
    mark(s, chunkOf(s, next.start, span), span);
  }
}

/**
 * Takes the retained window starting at `start` out, if there is one: a correction reopens it (late data, or the
 * next reading of a sensor that reports less often than the allowed lateness, whose window `tick` closed).
 */
export function takeRetained(s: RetainedRecords, start: number, intervalMs: number, span?: ChunkSpan): Win | undefined {
  if (s.sealedCount === 0 || start < s.sealedFirstStart || start > s.sealedMaxStart) return undefined;
  const r = new ByteReader(s.sealed, s.sealedBytes);
  const at = seek(s, r, start, intervalMs);
  if (at === s.sealedBytes || F[START] !== start) return undefined;
  const prev = seekPrev;
  const w = readTail(r, F);
  scratch.pos = 0;
  // A record after the tail's first leaves the tail where it begins (the one before it is in the same chunk).
  if (at <= s.tailAt) s.tailAt = -1;
  if (span !== undefined) mark(s, chunkOf(s, start, span), span);
  if (r.pos < s.sealedBytes) {
    // The record after it was written relative to `start`: written again, relative to the one before.
    F[START] = start;
    readHead(r, F, intervalMs, false);
    const next = readTail(r, F);
    writeWinRecord(scratch, next, prev, intervalMs);
    if (at === 0) s.sealedFirstStart = next.start;
    if (span !== undefined) mark(s, chunkOf(s, next.start, span), span);
  } else {
    s.sealedMaxStart = prev;
    // The tail moves back to the chunk of `prev`, whose row (if any) goes: the tail lives in the device row.
    if (span !== undefined && at > 0) mark(s, chunkOf(s, prev, span), span);
  }
  splice(s, at, r.pos);
  if (--s.sealedCount === 0) clear(s);
  return w;
}

/** Set by `seek`: the start of the record before the one found (-Infinity: none). */
let seekPrev = -Infinity;

/**
 * Reads record heads up to the first record whose start >= `start`; returns its byte offset (sealedBytes when
 * there is none), with its head in F and the reader at its partials. Begins at the tail's first record when that
 * lies before `start` (tailAt known): corrections land in the newest windows nearly always, e.g. a sensor that
 * reports less often than the allowed lateness reopens its newest window for every reading after the first, and
 * walking all 90 records of the shipped horizons for it cost more than the rest of the reading
 * (BENCHMARKS.md, "Boxed doubles in the walks over retained records").
 */
function seek(s: RetainedRecords, r: ByteReader, start: number, intervalMs: number): number {
  let prev = -Infinity;
  if (s.tailAt > 0 && s.tailStart <= start) {
    r.pos = s.tailAt;
    F[START] = s.tailStart;
    readHead(r, F, intervalMs, true);
    if (s.tailStart < start) {
      skipTail(r, F);
      prev = s.tailStart;
    } else if (!Number.isNaN(F[BEFORE]!)) {
      // The tail's first record itself: the start before it is in its encoding (integer starts, all but odd ts).
      seekPrev = F[BEFORE]!;
      return s.tailAt;
    } else r.pos = 0;
  }
  while (r.pos < s.sealedBytes) {
    const at = r.pos;
    F[START] = at === 0 ? s.sealedFirstStart : prev;
    readHead(r, F, intervalMs, at === 0);
    if (F[START]! >= start) {
      seekPrev = prev;
      return at;
    }
    skipTail(r, F);
    prev = F[START]!;
  }
  seekPrev = prev;
  return s.sealedBytes;
}

/** Replaces the bytes [from, to) of the sensor's records with scratch[0, scratch.pos). */
function splice(s: RetainedRecords, from: number, to: number): void {
  const n = scratch.pos;
  const len = s.sealedBytes - (to - from) + n;
  if (len > s.sealed.length) resize(s, len + (len >> 3) + 32);
  s.sealed.copyWithin(from + n, to, s.sealedBytes);
  scratch.buf.copy(s.sealed, from, 0, n);
  s.sealedBytes = len;
}

/** Drops retained windows whose end (start + intervalMs) <= limit; returns how many. */
export function evictRetained(s: RetainedRecords, limit: number, intervalMs: number, span?: ChunkSpan): number {
  if (s.sealedCount === 0 || s.sealedFirstStart + intervalMs > limit) return 0;
  const r = new ByteReader(s.sealed, s.sealedBytes);
  let k = 0;
  let prev = -Infinity;
  let keepAt = 0;
  // The chunk of the records evicted so far: once a record of a later chunk is read, all of it is evicted.
  let evicted = NaN;
  while (k < s.sealedCount) {
    const at = r.pos;
    F[START] = k === 0 ? s.sealedFirstStart : prev;
    readHead(r, F, intervalMs, k === 0);
    if (span !== undefined && span.track) {
      const c = chunkOf(s, F[START]!, span);
      if (c !== evicted) {
        if (k > 0) mark(s, evicted, span);
        evicted = c;
      }
    }
    if (F[START]! + intervalMs > limit) {
      keepAt = at;
      s.sealedFirstStart = F[START]!;
      break;
    }
    skipTail(r, F);
    prev = F[START]!;
    k++;
  }
  // All evicted: the last chunk was the tail (no row of its own), the ones before it were marked above.
  if (k === s.sealedCount) clear(s);
  else {
    s.sealed.copyWithin(0, keepAt, s.sealedBytes);
    s.sealedBytes -= keepAt;
    s.sealedCount -= k;
    if (s.tailAt >= keepAt) s.tailAt -= keepAt;
    else if (s.tailAt >= 0) {
      // Eviction reached into the tail: its first record is the sensor's first now.
      s.tailAt = 0;
      s.tailStart = s.sealedFirstStart;
    }
    const cap = s.sealed.length;
    if (cap > s.sealedBytes + (s.sealedBytes >> 1) + 64) resize(s, s.sealedBytes + (s.sealedBytes >> 3) + 32);
  }
  return k;
}

/** The retained windows as objects, ascending (tests). */
export function decodeAll(s: RetainedRecords, intervalMs: number): Win[] {
  const out: Win[] = [];
  const r = new ByteReader(s.sealed, s.sealedBytes);
  let prev = -Infinity;
  for (let k = 0; k < s.sealedCount; k++) {
    F[START] = k === 0 ? s.sealedFirstStart : prev;
    readHead(r, F, intervalMs, k === 0);
    out.push(readTail(r, F));
    prev = F[START]!;
  }
  return out;
}

/**
 * Makes a copy of `bytes` the sensor's `count` records whose first starts at `firstStart`, after checking that
 * they decode to exactly that many well-formed records with ascending starts (restore). Throws on anything else.
 */
export function loadRetained(s: RetainedRecords, bytes: Buffer, count: number, firstStart: number, intervalMs: number): void {
  if (count === 0) {
    if (bytes.length !== 0) throw new RangeError('retained bytes without windows');
    clear(s);
    return;
  }
  const r = new ByteReader(bytes, bytes.length);
  let prev = -Infinity;
  for (let k = 0; k < count; k++) {
    F[START] = k === 0 ? firstStart : prev;
    readHead(r, F, intervalMs, k === 0);
    if (!(F[START]! > prev)) throw new RangeError('retained windows not ascending');
    skipTail(r, F);
    prev = F[START]!;
  }
  if (r.pos !== bytes.length) throw new RangeError('bytes after the retained windows');
  // A buffer of its own with room to append (Buffer.from would share a pool slab with other sensors).
  s.sealed = Buffer.allocUnsafeSlow(bytes.length + (bytes.length >> 3) + 32);
  bytes.copy(s.sealed);
  s.sealedBytes = bytes.length;
  s.sealedCount = count;
  s.sealedFirstStart = firstStart;
  s.sealedMaxStart = prev;
  s.tailAt = -1;
}

/** Takes bytes[0, size) (checked by the caller: retained-chunks.ts joinPieces) as the sensor's records (restore). */
export function adoptRetained(s: RetainedRecords, bytes: Buffer, size: number, count: number, firstStart: number, maxStart: number): void {
  s.sealed = bytes;
  s.sealedBytes = size;
  s.sealedCount = count;
  s.sealedFirstStart = firstStart;
  s.sealedMaxStart = maxStart;
  s.tailAt = -1;
}

function append(s: RetainedRecords, w: Win, intervalMs: number, span: ChunkSpan | undefined): void {
  if (span === undefined) s.tailAt = -1;
  else if (s.sealedCount === 0 || chunkOf(s, w.start, span) !== chunkOf(s, s.sealedMaxStart, span)) {
    // A new tail; the former one is a chunk of its own now.
    if (s.sealedCount > 0) mark(s, chunkOf(s, s.sealedMaxStart, span), span);
    s.tailAt = s.sealedBytes;
    s.tailStart = w.start;
  }
  scratch.pos = 0;
  writeWinRecord(scratch, w, s.sealedMaxStart, intervalMs);
  const n = scratch.pos;
  if (s.sealedBytes + n > s.sealed.length) resize(s, s.sealedBytes + n + ((s.sealedBytes + n) >> 3) + 32);
  scratch.buf.copy(s.sealed, s.sealedBytes, 0, n);
  s.sealedBytes += n;
  if (s.sealedCount === 0) s.sealedFirstStart = w.start;
  s.sealedCount++;
  s.sealedMaxStart = w.start;
}

function clear(s: RetainedRecords): void {
  s.tailAt = -1;
  s.sealed = NO_RECORDS;
  s.sealedBytes = 0;
  s.sealedCount = 0;
  s.sealedFirstStart = -Infinity;
  s.sealedMaxStart = -Infinity;
}

function resize(s: RetainedRecords, cap: number): void {
  const b = Buffer.allocUnsafeSlow(cap);
  s.sealed.copy(b, 0, 0, s.sealedBytes);
  s.sealed = b;
}

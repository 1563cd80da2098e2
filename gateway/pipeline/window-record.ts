import { type ByteReader, ByteWriter } from '../persist/byte-codec.js';
import { exact } from '../persist/frame.js';
import { Win } from './window.js';

/**
 * One retained window as a record of bytes (retained.ts keeps a sensor's records back to back in one Buffer,
 * outside the V8 heap). Every field a correction needs (window.ts: count, min, max, first/last with their ts,
 * the exact sum's partials, the revision) comes back bit for bit; what makes it small:
 *  - numbers in the byte codec's `num` (persist/byte-codec.ts): integers as varints, other doubles 9 bytes;
 *  - the start as nothing (flag NEXT: the previous record's start + interval, the common case), else as the
 *    difference to the previous start, else (when that would not add back exactly) as itself;
 *  - firstTs and lastTs as offsets from the start (a few bytes), else (not exact) as themselves;
 *  - max, first and last left out when they equal min or max (flags), as they do for steady or monotone values;
 *  - min, max, first and last as decimals when they are: sensors send values like 21.37, which as doubles take
 *    9 bytes each but are exactly m / 10^d for a small integer m (the division is correctly rounded both when
 *    the JSON was parsed and when the record is read, so m / 10^d === value is checked when writing and gives
 *    the same double back). d (0: written as they are) is shared by the four values of a record, and by the
 *    exact sum's greatest partial when it is such a decimal too (flag H; for two-decimal readings it nearly
 *    always is: the smaller partial, the rounding residue, is not).
 * Layout: flags:u8 [start:num] count:uvar rev*32+H*16+d:uvar min [max] [first] [last] firstTs:num lastTs:num
 *         partials:uvar big:uvar then the partials and the big partials as num; min ... last as num, of m when
 *         d > 0; the greatest partial of m when H.
 * The first record of a sensor's buffer carries a start field too, but its start is kept by the sensor
 * (`sealedFirstStart`): the record it was relative to may have been evicted.
 */
const NEXT = 1;
const ABS_START = 2;
const MAX_IS_MIN = 4;
const FIRST_IS_MIN = 8;
const FIRST_IS_MAX = 16;
const LAST_IS_MIN = 32;
const LAST_IS_MAX = 64;
const ABS_TS = 128;

/** Fields of a decoded record head: F[START] ... F[NBIG]. */
export const START = 0;
const COUNT = 1;
const MIN = 2;
const MAX = 3;
const FIRST_TS = 4;
const FIRST = 5;
const LAST_TS = 6;
const LAST = 7;
const REV = 8;
const NPART = 9;
const NBIG = 10;
const DEC = 11;
const HI_DEC = 12;
/**
 * Set by readHead with `known`: the start of the record this one was written after, as its own encoding gives it
 * back (every record but a buffer's first was written after the one before it), NaN when it cannot say exactly
 * (written with an absolute start, or not all integers).
 */
export const BEFORE = 13;
/** Length of the scratch readHead fills. */
export const HEAD_FIELDS = 14;

/** 10^d, exact doubles. */
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];
const DECIMALS = POW10.length - 1;
/** The values a record writes (min, then max, first, last unless left out), for the decimals check. */
const V = new Float64Array(4);

/** The smallest d in 1..8 for which every V[0, n) is exactly m / 10^d with m a safe integer; 0 if none (or all are integers). */
function decimalsOf(n: number): number {
  let ints = true;
  for (let i = 0; i < n; i++) if (!Number.isInteger(V[i]) || Object.is(V[i], -0)) ints = false;
  if (ints) return 0;
  for (let d = 1; d <= DECIMALS; d++) {
    const p = POW10[d]!;
    let ok = true;
    for (let i = 0; ok && i < n; i++) {
      const v = V[i]!;
      const m = Math.round(v * p);
      ok = Number.isSafeInteger(m) && m / p === v && !Object.is(v, -0);
    }
    if (ok) return d;
  }
  return 0;
}

/** Scratch the records are encoded into before they are copied to a sensor's buffer. */
export const scratch = new ByteWriter(512);

/** Appends the record of `w` to `out`; `prevStart` is the previous record's start (-Infinity: none). */
export function writeWinRecord(out: ByteWriter, w: Win, prevStart: number, intervalMs: number): void {
  const { start, min, max, first, last } = w;
  let flags = 0;
  const delta = start - prevStart;
  if (prevStart + intervalMs === start) flags |= NEXT;
  else if (!Number.isFinite(delta) || !exact(prevStart + delta, start)) flags |= ABS_START;
  if (Object.is(max, min)) flags |= MAX_IS_MIN;
  if (Object.is(first, min)) flags |= FIRST_IS_MIN;
  else if (Object.is(first, max)) flags |= FIRST_IS_MAX;
  if (Object.is(last, min)) flags |= LAST_IS_MIN;
  else if (Object.is(last, max)) flags |= LAST_IS_MAX;
  const f = w.firstTs - start;
  const l = w.lastTs - start;
  if (!exact(start + f, w.firstTs) || !exact(start + l, w.lastTs)) flags |= ABS_TS;
  let n = 0;
  V[n++] = min;
  if ((flags & MAX_IS_MIN) === 0) V[n++] = max;
  if ((flags & (FIRST_IS_MIN | FIRST_IS_MAX)) === 0) V[n++] = first;
  if ((flags & (LAST_IS_MIN | LAST_IS_MAX)) === 0) V[n++] = last;
  const d = decimalsOf(n);
  const np = w.partials.length;
  let hiDec = 0;
  if (d > 0) {
    for (let i = 0; i < n; i++) V[i] = Math.round(V[i]! * POW10[d]!);
    if (np > 0) {
      const hi = w.partials[np - 1]!;
      const m = Math.round(hi * POW10[d]!);
      if (Number.isSafeInteger(m) && m / POW10[d]! === hi && !Object.is(hi, -0)) hiDec = 16;
    }
  }
  out.u8(flags);
  if ((flags & NEXT) === 0) out.num(flags & ABS_START ? start : delta);
  out.uvar(w.count);
  out.uvar(w.rev * 32 + hiDec + d);
  for (let i = 0; i < n; i++) out.numAt(V, i);
  out.num(flags & ABS_TS ? w.firstTs : f);
  out.num(flags & ABS_TS ? w.lastTs : l);
  const big = w.big ?? NONE;
  out.uvar(w.partials.length);
  out.uvar(big.length);
  for (let k = 0; k < np - 1; k++) out.numAt(w.partials, k);
  if (np > 0) {
    V[0] = w.partials[np - 1]!;
    if (hiDec > 0) V[0] = Math.round(V[0] * POW10[d]!);
    out.numAt(V, 0);
  }
  for (let k = 0; k < big.length; k++) out.numAt(big, k);
}
const NONE: number[] = [];

/**
 * Reads a record's head into F (START ... NBIG) and leaves the reader at its partials. On entry F[START] holds
 * the start of the previous record, or with `known` the start of this one (a buffer's first record: its start
 * field is read and ignored, the record it was written after may be evicted). The starts travel in F rather than
 * as arguments: a double passed to a call that is not inlined is boxed, and the loops over a sensor's records
 * (90 at the shipped horizons) made three such boxes per record, ~4 KB of garbage per walk (BENCHMARKS.md,
 * "Boxed doubles in the walks over retained records"). Throws RangeError on bytes the writer cannot have
 * produced (restore checks them all).
 */
export function readHead(r: ByteReader, F: Float64Array, intervalMs: number, known: boolean): void {
  const flags = r.u8();
  if ((flags & NEXT && flags & ABS_START) || (flags & FIRST_IS_MIN && flags & FIRST_IS_MAX) || (flags & LAST_IS_MIN && flags & LAST_IS_MAX)) bad();
  const prevStart = F[START]!;
  // NEXT: no field, the previous start + interval; ABS_START: the start; else the difference to the previous one.
  const field = flags & NEXT ? intervalMs : r.num();
  let start = flags & ABS_START ? field : prevStart + field;
  if (known) {
    start = prevStart;
    const before = start - field;
    F[BEFORE] = flags & ABS_START || !Number.isSafeInteger(before) || !Number.isSafeInteger(start) ? NaN : before;
  }
  F[START] = start;
  F[COUNT] = r.uvar();
  const revD = r.uvar();
  const d = revD % 16;
  if (d > DECIMALS) bad();
  F[DEC] = d;
  F[HI_DEC] = revD % 32 >= 16 ? 1 : 0;
  F[REV] = (revD - (revD % 32)) / 32;
  const p = POW10[d]!;
  const min = (F[MIN] = r.num() / p);
  const max = (F[MAX] = flags & MAX_IS_MIN ? min : r.num() / p);
  F[FIRST] = flags & FIRST_IS_MIN ? min : flags & FIRST_IS_MAX ? max : r.num() / p;
  F[LAST] = flags & LAST_IS_MIN ? min : flags & LAST_IS_MAX ? max : r.num() / p;
  F[FIRST_TS] = flags & ABS_TS ? r.num() : start + r.num();
  F[LAST_TS] = flags & ABS_TS ? r.num() : start + r.num();
  F[NPART] = r.uvar();
  F[NBIG] = r.uvar();
  if (F[HI_DEC] === 1 && (d === 0 || F[NPART] === 0)) bad();
  if (!(Number.isFinite(start) && Number.isFinite(F[FIRST_TS]!) && Number.isFinite(F[LAST_TS]!))) bad();
  if (!(F[COUNT]! >= 1 && min <= max && F[FIRST_TS]! <= F[LAST_TS]!)) bad();
}

/** Skips the partials of the record whose head was just read into F. */
export function skipTail(r: ByteReader, F: Float64Array): void {
  for (let k = F[NPART]! + F[NBIG]!; k > 0; k--) r.num();
}

/** The window of the record whose head was just read into F (reads its partials). */
export function readTail(r: ByteReader, F: Float64Array): Win {
  const w = new Win(F[START]!, F[REV]!);
  w.count = F[COUNT]!;
  w.min = F[MIN]!;
  w.max = F[MAX]!;
  w.firstTs = F[FIRST_TS]!;
  w.first = F[FIRST]!;
  w.lastTs = F[LAST_TS]!;
  w.last = F[LAST]!;
  const np = F[NPART]!;
  const nb = F[NBIG]!;
  for (let k = 0; k < np; k++) w.partials.push(r.num());
  if (F[HI_DEC] === 1) w.partials[np - 1] = w.partials[np - 1]! / POW10[F[DEC]!]!;
  if (nb > 0) {
    const big: number[] = [];
    for (let k = 0; k < nb; k++) big.push(r.num());
    w.big = big;
  }
  return w;
}

function bad(): never {
  throw new RangeError('bad window record');
}

import { ByteFormatError, ByteReader, ByteWriter } from './byte-codec.js';
import type { BlobFormat } from './formats.js';

/**
 * The framing every binary snapshot shares: magic and version up front (formats.ts), the caller's layout, the
 * CRC-32 trailer of byte-codec.ts; and lists written in DELTA mode (differences, a byte or two each) with a
 * fallback to PLAIN mode when some difference does not add back exactly: the writer rewinds and writes the list
 * again. A layout module writes and reads only its own fields.
 */
export const PLAIN = 0;
export const DELTA = 1;

/** `sum` (a decoded prev + difference) is `x` bit for bit: -0 and 0 are === but not the same double. */
export const exact = (sum: number, x: number): boolean => sum === x && (x !== 0 || 1 / sum === 1 / x);

export function writeHeader(w: ByteWriter, f: BlobFormat): void {
  for (let i = 0; i < 4; i++) w.u8(f.magic.charCodeAt(i));
  w.u8(f.version);
}

/** Whether `bytes` begin with the magic of format `f` (nothing else is checked: readHeader does, with the version). */
export function hasMagic(bytes: Uint8Array, f: BlobFormat): boolean {
  if (bytes.length < 4) return false;
  for (let i = 0; i < 4; i++) if (bytes[i] !== f.magic.charCodeAt(i)) return false;
  return true;
}

/** Checks the magic and version (the CRC was checked when the reader was made). */
export function readHeader(r: ByteReader, f: BlobFormat): void {
  for (let i = 0; i < 4; i++) if (r.u8() !== f.magic.charCodeAt(i)) throw new ByteFormatError(`not a ${f.name}`);
  const version = r.u8();
  if (version !== f.version) throw new ByteFormatError(`unknown version ${version}`);
}

/**
 * Writes the mode byte and `write(w, delta, x)`, first with delta = true; when that returns false (a difference
 * did not add back exactly), rewinds and writes it again with delta = false, which must succeed. `write` is a
 * module-level function and `x` its argument, so a call allocates no closure (checkpoints call this per sensor).
 */
export function writeDeltaOrPlain<T>(w: ByteWriter, write: (w: ByteWriter, delta: boolean, x: T) => boolean, x: T): void {
  const at = w.pos;
  w.u8(DELTA);
  if (write(w, true, x)) return;
  w.pos = at;
  w.u8(PLAIN);
  write(w, false, x);
}

/** Reads a mode byte: true for DELTA. */
export function readDelta(r: ByteReader, what: string): boolean {
  const mode = r.u8();
  if (mode !== DELTA && mode !== PLAIN) throw new ByteFormatError(`bad mode ${mode} (${what})`);
  return mode === DELTA;
}

/** Reads a whole blob of format `f`: checksum, header, the layout, and nothing after it. */
export function readBlob<T>(bytes: Uint8Array, f: BlobFormat, read: (r: ByteReader) => T): T {
  const r = new ByteReader(bytes);
  readHeader(r, f);
  const out = read(r);
  if (r.remaining !== 0) throw new ByteFormatError('trailing bytes');
  return out;
}

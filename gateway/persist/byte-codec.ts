import { crc32 } from 'node:zlib';
import { GatewayError } from '../errors.js';

/**
 * A compact binary encoding of numbers and strings, written into one growable Buffer outside the V8 heap
 * (checkpoints of ~100k sensors: see snapshot-binary.ts). Every double round-trips bit-exactly:
 *  - `num`: a safe integer (|x| < 2^51, not -0) as the unsigned LEB128 varint of zigzag(x) * 2, so small
 *    integers of either sign take one byte; anything else as the byte 0x01 (varint 1: odd = tagged) and the
 *    8 bytes of the float64, little-endian. Other odd varints are reserved for future tags.
 *  - `str`: varint (byte length * 2 + 1 if UTF-16LE) then the bytes: UTF-8 unless the string holds a lone
 *    surrogate, which UTF-8 cannot carry.
 * A trailer holds the CRC-32 of everything before it, so a torn or bit-flipped file is refused, not misread.
 */

/** |x| below this is written as a varint: zigzag(x) * 2 then stays a safe integer. */
const VARINT_LIMIT = 2 ** 51;
const TAG_FLOAT64 = 1;
const F64 = new Float64Array(1);
const F64_BYTES = new Uint8Array(F64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const ARG = new Float64Array(1);
/** In a `u` regex a surrogate pair is one code point, so this matches lone surrogates only. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Thrown by ByteReader for input that is truncated, corrupted or otherwise not what the writer produces. */
export class ByteFormatError extends GatewayError {
  override readonly name = 'ByteFormatError';
  override readonly code = 'GATEWAY_BYTES_MALFORMED';
  constructor(message: string) {
    super('GATEWAY_BYTES_MALFORMED', message);
  }
}

export class ByteWriter {
  buf: Buffer;
  pos = 0;

  /**
   * `capacity`: a size hint (e.g. the previous snapshot's); the buffer doubles when it is too small. `reuse`: a
   * buffer to write into instead of allocating one (persist/row-buffers.ts); its bytes are overwritten. `alloc`:
   * how a buffer is allocated, the first and each larger one (row-buffers.ts: shared memory for big ones).
   */
  constructor(
    capacity: number,
    reuse?: Buffer,
    private readonly alloc: (bytes: number) => Buffer = Buffer.allocUnsafeSlow,
  ) {
    this.buf = reuse ?? alloc(Math.max(64, Math.ceil(capacity)));
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = this.alloc(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(x: number): void {
    this.ensure(1);
    this.buf[this.pos++] = x;
  }

  /** A non-negative safe integer as LEB128 (at most 8 bytes). */
  uvar(u: number): void {
    this.ensure(8);
    const b = this.buf;
    let p = this.pos;
    if (u < 0x80000000) {
      while (u > 127) {
        b[p++] = (u & 127) | 128;
        u >>>= 7;
      }
    } else {
      while (u > 127) {
        b[p++] = (u % 128) | 128;
        u = Math.floor(u / 128);
      }
    }
    b[p++] = u;
    this.pos = p;
  }

  /**
   * Writes `src[i]`. Numbers are read here from an array, not passed in: optimized code boxes a double passed
   * to a function it does not inline, and a checkpoint writes millions of them.
   */
  numAt(src: ArrayLike<number>, i: number): void {
    const x = src[i] as number;
    if (this.pos + 9 > this.buf.length) this.ensure(9);
    const b = this.buf;
    let p = this.pos;
    if (x < VARINT_LIMIT && x > -VARINT_LIMIT && Number.isInteger(x) && !(x === 0 && 1 / x < 0)) {
      let u = x >= 0 ? x * 4 : -x * 4 - 2;
      while (u >= 0x80000000) {
        b[p++] = (u % 128) | 128;
        u = Math.floor(u / 128);
      }
      while (u > 127) {
        b[p++] = (u & 127) | 128;
        u >>>= 7;
      }
      b[p++] = u;
    } else {
      b[p++] = TAG_FLOAT64;
      F64[0] = x;
      for (let k = 0; k < 8; k++) b[p++] = F64_BYTES[LITTLE_ENDIAN ? k : 7 - k]!;
    }
    this.pos = p;
  }

  num(x: number): void {
    ARG[0] = x;
    this.numAt(ARG, 0);
  }

  /** Copies src[from, to) as they are. */
  bytes(src: Uint8Array, from: number, to: number): void {
    this.ensure(to - from);
    this.buf.set(src.subarray(from, to), this.pos);
    this.pos += to - from;
  }

  str(s: string): void {
    const n = s.length;
    this.ensure(n * 3 + 8);
    const b = this.buf;
    // Names are short ASCII in practice: copy them by hand (a native call per string costs more).
    let ascii = n < 64;
    for (let i = 0; ascii && i < n; i++) if (s.charCodeAt(i) > 127) ascii = false;
    if (ascii) {
      b[this.pos++] = n * 2;
      for (let i = 0; i < n; i++) b[this.pos++] = s.charCodeAt(i);
    } else if (!LONE_SURROGATE.test(s)) {
      this.uvar(Buffer.byteLength(s, 'utf8') * 2);
      this.pos += b.write(s, this.pos, 'utf8');
    } else {
      this.uvar(n * 4 + 1);
      this.pos += b.write(s, this.pos, 'utf16le');
    }
  }

  /** Appends the CRC-32 trailer and returns the bytes, trimmed when the buffer is mostly unused. */
  finish(): Buffer {
    this.ensure(4);
    const b = this.buf;
    b.writeUInt32LE(crc32(b.subarray(0, this.pos)), this.pos);
    this.pos += 4;
    if (this.pos * 4 >= b.length * 3) return b.subarray(0, this.pos);
    const out = Buffer.allocUnsafeSlow(this.pos);
    b.copy(out, 0, 0, this.pos);
    return out;
  }
}

/**
 * Keeps the ByteWriter's hidden class alive between snapshots. Without a live instance V8 drops the map at
 * the next full GC, and every optimized function that used a writer is deoptimized ("weak objects"): the
 * checkpoint then ran 3-4x slower, in unoptimized code boxing every double on the heap.
 */
export const keepWriterMap = new ByteWriter(0);

export class ByteReader {
  pos = 0;
  /** End of the payload (before the CRC trailer). */
  readonly end: number;
  private readonly buf: Buffer;

  /**
   * Checks the CRC trailer first: nothing of a damaged buffer is decoded. With `payloadEnd`, reads
   * bytes[0, payloadEnd) with no trailer: for records held in memory (pipeline/retained.ts), never for a file.
   */
  constructor(bytes: Uint8Array, payloadEnd?: number) {
    const b = (this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    if (payloadEnd !== undefined) {
      this.end = payloadEnd;
      return;
    }
    if (b.length < 4) throw new ByteFormatError('truncated (no checksum)');
    this.end = b.length - 4;
    if (b.readUInt32LE(this.end) !== crc32(b.subarray(0, this.end))) throw new ByteFormatError('checksum mismatch (truncated or corrupted)');
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  u8(): number {
    if (this.pos >= this.end) throw new ByteFormatError('truncated');
    return this.buf[this.pos++] as number;
  }

  uvar(): number {
    let u = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      const b = this.u8();
      u += (b & 127) * mul;
      if (b < 128) break;
      if (i === 7) throw new ByteFormatError('varint too long');
      mul *= 128;
    }
    if (u > Number.MAX_SAFE_INTEGER) throw new ByteFormatError('varint out of range');
    return u;
  }

  /** A count of items that take at least `minBytes` each: bounded by what is left, so garbage cannot ask for 2^50. */
  count(minBytes = 1): number {
    const n = this.uvar();
    if (n * minBytes > this.remaining) throw new ByteFormatError(`count ${n} exceeds the remaining ${this.remaining} bytes`);
    return n;
  }

  /** A finite number (no state this codec carries holds NaN or an infinity). */
  num(): number {
    const u = this.uvar();
    if (u % 2 === 0) {
      const z = u / 2;
      return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
    }
    if (u !== TAG_FLOAT64) throw new ByteFormatError(`unknown number tag ${u}`);
    if (this.pos + 8 > this.end) throw new ByteFormatError('truncated');
    const x = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    if (!Number.isFinite(x)) throw new ByteFormatError('non-finite number');
    return x;
  }

  /** The next `n` bytes, as a view (the caller copies what it keeps). */
  bytes(n: number): Buffer {
    if (n > this.remaining) throw new ByteFormatError('truncated');
    this.pos += n;
    return this.buf.subarray(this.pos - n, this.pos);
  }

  str(): string {
    const h = this.uvar();
    const utf16 = h % 2 === 1;
    const n = utf16 ? (h - 1) / 2 : h / 2;
    if (n > this.remaining || (utf16 && n % 2 !== 0)) throw new ByteFormatError('malformed string');
    const from = this.pos;
    this.pos += n;
    return this.buf.toString(utf16 ? 'utf16le' : 'utf8', from, from + n);
  }
}

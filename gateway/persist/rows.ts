import { crc32 } from 'node:zlib';
import { ByteFormatError, ByteReader, ByteWriter } from './byte-codec.js';
import type { BlobFormat } from './formats.js';
import { FORMATS } from './formats.js';
import { hasMagic, readHeader, writeHeader } from './frame.js';
import { allocRowBuffer, rowBuffers } from './row-buffers.js';

/**
 * A checkpoint part kept as rows, one per device, so that a checkpoint writes only the devices that changed since
 * the last one (docs/durability.md, "Incremental checkpoints"). Two shapes:
 *
 *  - RowBatch: the rows a checkpoint writes, built in ONE growable buffer (no Buffer per row) with an index of
 *    int32 offsets, so the batch crosses to the checkpoint writer's thread without a copy (a big buffer is
 *    shared memory: row-buffers.ts; a small one and the index are transferred). Row i is
 *    key = the string at index[3i] (ByteWriter.str) and value = bytes [index[3i+1], index[3i+2]); an empty value
 *    deletes the row.
 *  - the rows of a part as read back (head + every row), packed into one blob of FORMATS.checkpointRows so that a
 *    restore gets one Uint8Array per part as before; each part's decoder recognises it (isRows) and unpacks it.
 */
export interface RowBatch {
  readonly buf: Buffer;
  /** Per row: key start, value start, value end (offsets into buf). */
  readonly index: Int32Array;
  readonly rows: number;
}

/** Builds a RowBatch; a row's value is framed (magic, version) and ends with the CRC-32 of its bytes. */
export class RowWriter {
  readonly w: ByteWriter;
  private index: Int32Array;
  private n = 0;
  private valueAt = 0;

  constructor(sizeHint = 0) {
    const capacity = sizeHint * 1.1 + 4096;
    this.w = new ByteWriter(capacity, rowBuffers.take(capacity), allocRowBuffer);
    this.index = new Int32Array(3 * 256);
  }

  /** Starts the row of `key`: write its value with `w` (after `frame` when given), then call `end`. */
  begin(key: string, frame?: BlobFormat): void {
    if (3 * this.n + 3 > this.index.length) {
      const next = new Int32Array(this.index.length * 2);
      next.set(this.index);
      this.index = next;
    }
    this.index[3 * this.n] = this.w.pos;
    this.w.str(key);
    this.valueAt = this.w.pos;
    if (frame !== undefined) writeHeader(this.w, frame);
  }

  /** Ends the row begun last; `empty`: the row is deleted (nothing of its value is kept). */
  end(empty = false): void {
    const w = this.w;
    if (empty) w.pos = this.valueAt;
    else {
      w.ensure(4);
      w.buf.writeUInt32LE(crc32(w.buf.subarray(this.valueAt, w.pos)), w.pos);
      w.pos += 4;
    }
    this.index[3 * this.n + 1] = this.valueAt;
    this.index[3 * this.n + 2] = w.pos;
    this.n++;
  }

  /** Drops the row begun last: nothing of it is written. */
  cancel(): void {
    this.w.pos = this.index[3 * this.n]!;
  }

  get rows(): number {
    return this.n;
  }

  get bytes(): number {
    return this.w.pos;
  }

  finish(): RowBatch {
    return { buf: this.w.buf, index: this.index, rows: this.n };
  }
}

/** Every row of a batch as key -> value (an empty value: deleted). */
export function* batchRows(b: RowBatch): Generator<[string, Buffer]> {
  for (let i = 0; i < b.rows; i++) yield [readKey(b.buf, b.index[3 * i]!), b.buf.subarray(b.index[3 * i + 1]!, b.index[3 * i + 2]!)];
}

/** A ByteWriter.str at `at` (the worker side has its own copy of this, checkpoint-writer.ts). */
export function readKey(buf: Buffer, at: number): string {
  let h = 0;
  let mul = 1;
  let p = at;
  for (;;) {
    const b = buf[p++]!;
    h += (b & 127) * mul;
    if (b < 128) break;
    mul *= 128;
  }
  const utf16 = h % 2 === 1;
  const n = utf16 ? (h - 1) / 2 : h / 2;
  return buf.toString(utf16 ? 'utf16le' : 'utf8', p, p + n);
}

/** Packs a part's head and rows into one blob (FORMATS.checkpointRows): what a store's load() returns for the part. */
export function packRows(head: Uint8Array, rows: readonly Uint8Array[]): Buffer {
  let size = head.length + 32;
  for (const r of rows) size += r.length + 8;
  const w = new ByteWriter(size);
  writeHeader(w, FORMATS.checkpointRows);
  w.uvar(head.length);
  w.ensure(head.length);
  w.buf.set(head, w.pos);
  w.pos += head.length;
  w.uvar(rows.length);
  for (const r of rows) {
    w.uvar(r.length);
    w.ensure(r.length);
    w.buf.set(r, w.pos);
    w.pos += r.length;
  }
  return w.finish();
}

/** True when `bytes` begin like a packRows blob (the magic only: unpackRows checks the rest). */
export function isRows(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && hasMagic(bytes, FORMATS.checkpointRows);
}

/** The head and rows of a packRows blob (views into it); throws ByteFormatError when it is damaged. */
export function unpackRows(bytes: Uint8Array): { head: Uint8Array; rows: Uint8Array[] } {
  const r = new ByteReader(bytes);
  readHeader(r, FORMATS.checkpointRows);
  const take = (): Uint8Array => {
    const n = r.count();
    const at = r.pos;
    r.pos += n;
    return bytes.subarray(at, at + n);
  };
  const head = take();
  const rows: Uint8Array[] = [];
  for (let n = r.count(); n > 0; n--) rows.push(take());
  if (r.remaining !== 0) throw new ByteFormatError('trailing bytes after the rows');
  return { head, rows };
}

/**
 * What the pipeline's and the alerts' incremental captures share (pipeline/snapshot-rows.ts,
 * alerts/snapshot-rows.ts): the rows being written, `finish`, and `abort` that hands the owner what to write again
 * (`requeue()`) when the capture is dropped or its save failed.
 */
export abstract class RowCapture<R> {
  protected readonly rows: RowWriter;
  protected ended = false;

  /** `onEnd(bytes, requeue)`: finished (requeue null), or aborted with what the next capture must write again. */
  constructor(
    sizeHint: number,
    private readonly onEnd: (bytes: number, requeue: R | null) => void,
  ) {
    this.rows = new RowWriter(sizeHint);
  }

  /** Writes up to `maxDevices` more rows; true when only `finish` is left. */
  abstract step(maxDevices: number): boolean;

  protected abstract requeue(): R;

  finish(): RowBatch {
    this.step(Infinity);
    this.ended = true;
    this.onEnd(this.rows.bytes, null);
    return this.rows.finish();
  }

  abort(): void {
    const wasEnded = this.ended;
    this.ended = true;
    this.onEnd(wasEnded ? -1 : 0, this.requeue());
  }
}

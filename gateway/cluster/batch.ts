/**
 * The body of one stream message: the ingest publishes of one partition that reached one front end in the same
 * turn of its event loop (a group commit, like the single gateway's ingest log: gateway/state/journal.ts). Each
 * record holds what decode + pipeline need to reproduce the processing (state/ingest-log.ts IngestRecord):
 *   u32 count, then per record: f64 receivedAt, u16 topic bytes, topic (UTF-8), u32 payload bytes, payload.
 */
export interface BatchRecord {
  readonly topic: string;
  readonly payload: Buffer;
  readonly receivedAt: number;
}

export class BatchFormatError extends Error {}

/** The count of a tick marker: no records, then the f64 time the owner's idle close may go to. */
const TICK = 0xffffffff;

/**
 * A tick marker: the partition's owner, caught up and with windows open, puts the clock (minus cluster.idleGrace) in
 * the stream instead of applying it, and applies it when it reads the marker back. So even the idle close of quiet
 * sensors is part of the stream's content, and a new owner replaying the partition closes every window at the
 * same point of the stream as the old one did: the same windows with the same values.
 */
export function encodeTick(t: number): Buffer {
  const out = Buffer.allocUnsafe(12);
  out.writeUInt32BE(TICK, 0);
  out.writeDoubleBE(t, 4);
  return out;
}

export function encodeBatch(records: readonly BatchRecord[]): Buffer {
  let size = 4;
  const topics = records.map((r) => Buffer.from(r.topic));
  for (let i = 0; i < records.length; i++) size += 8 + 2 + topics[i]!.length + 4 + records[i]!.payload.length;
  const out = Buffer.allocUnsafe(size);
  let o = out.writeUInt32BE(records.length, 0);
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const t = topics[i]!;
    o = out.writeDoubleBE(r.receivedAt, o);
    o = out.writeUInt16BE(t.length, o);
    o += t.copy(out, o);
    o = out.writeUInt32BE(r.payload.length, o);
    o += r.payload.copy(out, o);
  }
  return out;
}

/** Calls `each` for every record in order; throws BatchFormatError on bytes that are not a batch (nothing is called then). */
export function decodeBatch(bytes: Uint8Array, each: (topic: string, payload: Buffer, receivedAt: number) => void, tick?: (t: number) => void): number {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: [number, number, number, number, number][] = [];
  if (b.length < 4) throw new BatchFormatError('batch shorter than its header');
  const n = b.readUInt32BE(0);
  if (n === TICK) {
    const t = b.length === 12 ? b.readDoubleBE(4) : NaN;
    if (!Number.isFinite(t)) throw new BatchFormatError('malformed tick marker');
    tick?.(t);
    return 0;
  }
  let o = 4;
  for (let i = 0; i < n; i++) {
    if (o + 14 > b.length) throw new BatchFormatError('truncated batch');
    const at = b.readDoubleBE(o);
    const tl = b.readUInt16BE(o + 8);
    const ts = o + 10;
    if (ts + tl + 4 > b.length) throw new BatchFormatError('truncated batch');
    const pl = b.readUInt32BE(ts + tl);
    const ps = ts + tl + 4;
    if (ps + pl > b.length) throw new BatchFormatError('truncated batch');
    records.push([at, ts, tl, ps, pl]);
    o = ps + pl;
  }
  if (o !== b.length) throw new BatchFormatError('trailing bytes after the batch');
  for (const [at, ts, tl, ps, pl] of records) each(b.toString('utf8', ts, ts + tl), b.subarray(ps, ps + pl), at);
  return n;
}

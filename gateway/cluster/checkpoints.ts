import type { KV } from '@nats-io/kv';
import { FORMATS } from '../persist/formats.js';
import { partitionKey } from './names.js';

/** One partition's checkpoint: the state covers every stream message of the partition up to `seq` and none after. */
export interface PartitionCheckpoint {
  /** Stream sequence of the last message processed (0: none). */
  readonly seq: number;
  /** The node that wrote it. */
  readonly node: string;
  readonly savedAt: number;
  /** FORMATS.pipelineSnapshot bytes; empty: no state yet. */
  readonly pipeline: Uint8Array;
  /** FORMATS.alertSnapshot bytes; empty: no state yet. */
  readonly alerts: Uint8Array;
  /** FORMATS.sparkplugSnapshot bytes (the partition's edge nodes); empty: no state yet. */
  readonly sparkplug: Uint8Array;
}

const MAGIC = Buffer.from(FORMATS.partitionCheckpoint.magic).readUInt32BE(0);
const VERSION = FORMATS.partitionCheckpoint.version;
const HEADER = 4 + 1 + 8 + 8 + 4 + 4 + 4 + 4;

export class CheckpointFormatError extends Error {}

/**
 * Bytes: magic u32, version u8, seq f64, savedAt f64, node length u32, pipeline length u32, alerts length u32,
 * sparkplug length u32, then the four.
 */
export function encodeCheckpoint(cp: PartitionCheckpoint): Uint8Array {
  const node = Buffer.from(cp.node);
  const out = Buffer.allocUnsafe(HEADER + node.length + cp.pipeline.length + cp.alerts.length + cp.sparkplug.length);
  let o = out.writeUInt32BE(MAGIC, 0);
  o = out.writeUInt8(VERSION, o);
  o = out.writeDoubleBE(cp.seq, o);
  o = out.writeDoubleBE(cp.savedAt, o);
  o = out.writeUInt32BE(node.length, o);
  o = out.writeUInt32BE(cp.pipeline.length, o);
  o = out.writeUInt32BE(cp.alerts.length, o);
  o = out.writeUInt32BE(cp.sparkplug.length, o);
  node.copy(out, o);
  o += node.length;
  out.set(cp.pipeline, o);
  out.set(cp.alerts, o + cp.pipeline.length);
  out.set(cp.sparkplug, o + cp.pipeline.length + cp.alerts.length);
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array): PartitionCheckpoint {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < HEADER || b.readUInt32BE(0) !== MAGIC) throw new CheckpointFormatError('not a partition checkpoint');
  if (b.readUInt8(4) !== VERSION) throw new CheckpointFormatError(`unknown checkpoint version ${b.readUInt8(4)}`);
  const seq = b.readDoubleBE(5);
  const savedAt = b.readDoubleBE(13);
  const nl = b.readUInt32BE(21);
  const pl = b.readUInt32BE(25);
  const al = b.readUInt32BE(29);
  const sl = b.readUInt32BE(33);
  if (!Number.isSafeInteger(seq) || seq < 0 || HEADER + nl + pl + al + sl !== b.length) throw new CheckpointFormatError('truncated or inconsistent checkpoint');
  let o = HEADER;
  const node = b.toString('utf8', o, o + nl);
  o += nl;
  const part = (from: number, length: number): Uint8Array => Uint8Array.prototype.slice.call(b, from, from + length);
  return { seq, savedAt, node, pipeline: part(o, pl), alerts: part(o + pl, al), sparkplug: part(o + pl + al, sl) };
}

/** What a checkpoint write found: saved (its new revision), or fenced (another owner wrote since). */
export type SaveResult = { readonly kind: 'saved'; readonly revision: number } | { readonly kind: 'fenced' };

/**
 * Checkpoints in a KV bucket, one key per partition, each write a compare-and-set on the revision the writer
 * last saw. A new owner first re-writes the checkpoint it loaded (claim), which bumps the revision: a former owner
 * still running (a paused process whose lease expired) then fails its next write and gives the partition up,
 * so no checkpoint of the old owner can replace the new owner's.
 */
export class CheckpointStoreKv {
  constructor(private readonly kv: KV) {}

  /** The checkpoint and its revision (0 when there is none). Throws CheckpointFormatError on foreign bytes. */
  async load(partition: number): Promise<{ checkpoint: PartitionCheckpoint | undefined; revision: number }> {
    const e = await this.kv.get(partitionKey(partition));
    if (e === null || e.operation !== 'PUT' || e.value.length === 0) return { checkpoint: undefined, revision: e?.revision ?? 0 };
    return { checkpoint: decodeCheckpoint(e.value), revision: e.revision };
  }

  async save(partition: number, cp: PartitionCheckpoint, expectedRevision: number): Promise<SaveResult> {
    const key = partitionKey(partition);
    const revision = await unlessWrongRevision(
      expectedRevision === 0 ? this.kv.create(key, encodeCheckpoint(cp)) : this.kv.update(key, encodeCheckpoint(cp), expectedRevision),
    );
    return revision === undefined ? { kind: 'fenced' } : { kind: 'saved', revision };
  }
}

/** JetStream's "wrong last sequence" (10071) or a create on an existing key. */
export function isWrongRevision(err: unknown): boolean {
  const e = err as { message?: string; code?: unknown; api_error?: { err_code?: number } } | null;
  if (e?.api_error?.err_code === 10071) return true;
  return typeof e?.message === 'string' && /wrong last sequence|key exists/i.test(e.message);
}

/** The revision a compare-and-set write returns, or undefined when the key was not at the revision it expected. */
export async function unlessWrongRevision(write: Promise<number>): Promise<number | undefined> {
  try {
    return await write;
  } catch (err) {
    if (isWrongRevision(err)) return undefined;
    throw err;
  }
}

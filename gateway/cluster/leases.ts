import type { KV } from '@nats-io/kv';
import { isWrongRevision } from './checkpoints.js';
import { partitionKey } from './names.js';

/**
 * Partition leases in a KV bucket whose entries expire `leaseTtl` after their last write (the bucket's max age):
 * a lease is the key `p{n}` holding the owner's node id; taking it is a create (fails when it exists),
 * renewing it an update on the revision the owner holds (compare-and-set), handing it over a delete on that
 * revision. A node that stops renewing (killed, paused, cut off) loses its leases when they expire.
 */
export class Leases {
  constructor(
    private readonly kv: KV,
    private readonly nodeId: string,
  ) {}

  /** The lease's revision, or undefined when another node holds it. */
  async acquire(partition: number): Promise<number | undefined> {
    try {
      return await this.kv.create(partitionKey(partition), this.nodeId);
    } catch (err) {
      if (isWrongRevision(err)) return undefined;
      throw err;
    }
  }

  /** The new revision, or undefined when the lease is no longer ours (expired and taken, or deleted). */
  async renew(partition: number, revision: number): Promise<number | undefined> {
    try {
      return await this.kv.update(partitionKey(partition), this.nodeId, revision);
    } catch (err) {
      if (isWrongRevision(err)) return undefined;
      throw err;
    }
  }

  async release(partition: number, revision: number): Promise<void> {
    await this.kv.delete(partitionKey(partition), { previousSeq: revision }).catch(() => undefined);
  }

  /** Owner of every held lease (partition -> node id). */
  async owners(): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for await (const key of await this.kv.keys()) {
      const e = await this.kv.get(key);
      if (e !== null && e.operation === 'PUT' && /^p\d+$/.test(key)) out.set(Number(key.slice(1)), e.string());
    }
    return out;
  }
}

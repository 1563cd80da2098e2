import type { KV } from '@nats-io/kv';
import { unlessWrongRevision } from './checkpoints.js';
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
    private readonly partitions: number,
  ) {}

  /** The lease's revision, or undefined when another node holds it. */
  acquire(partition: number): Promise<number | undefined> {
    return unlessWrongRevision(this.kv.create(partitionKey(partition), this.nodeId));
  }

  /**
   * The new revision, or undefined when the lease is no longer ours (expired and taken, or deleted).
   * A renewal that the bucket stored but whose reply was lost (a request timed out during a leader election)
   * leaves the owner one revision behind: the entry still names this node, so it is renewed on the revision
   * found instead of being given up. Only this node writes its id under a key it holds.
   */
  async renew(partition: number, revision: number): Promise<number | undefined> {
    const key = partitionKey(partition);
    const renewed = await unlessWrongRevision(this.kv.update(key, this.nodeId, revision));
    if (renewed !== undefined) return renewed;
    const e = await this.kv.get(key);
    if (e === null || e.operation !== 'PUT' || e.revision <= revision || e.string() !== this.nodeId) return undefined;
    return unlessWrongRevision(this.kv.update(key, this.nodeId, e.revision));
  }

  async release(partition: number, revision: number): Promise<void> {
    await this.kv.delete(partitionKey(partition), { previousSeq: revision }).catch(() => undefined);
  }

  /**
   * Owner of every held lease (partition -> node id). One direct get per partition (any replica answers), not a
   * listing of the bucket's keys: a listing is a consumer to create, and those go unanswered for minutes after a
   * NATS server dies (heartbeats.ts).
   */
  async owners(): Promise<Map<number, string>> {
    const entries = await Promise.all(Array.from({ length: this.partitions }, (_, p) => this.kv.get(partitionKey(p))));
    const out = new Map<number, string>();
    entries.forEach((e, p) => {
      if (e !== null && e.operation === 'PUT') out.set(p, e.string());
    });
    return out;
  }
}

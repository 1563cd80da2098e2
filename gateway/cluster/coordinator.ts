import type { KV } from '@nats-io/kv';
import type { Logger } from '../log.js';
import type { TimerHandle, Timers } from '../time/timers.js';
import type { Leases } from './leases.js';
import type { ClusterMetrics } from './metrics.js';
import type { PartitionWorker } from './partition-worker.js';

export interface CoordinatorDeps {
  readonly nodeId: string;
  readonly partitions: number;
  readonly leaseTtlMs: number;
  readonly leases: Leases;
  /** Heartbeats (same TTL as the leases): the nodes alive, for each one's fair share. */
  readonly nodes: KV;
  readonly newWorker: (partition: number) => PartitionWorker;
  readonly metrics: ClusterMetrics;
  readonly log: Logger;
  readonly timers: Timers;
}

interface Owned {
  readonly worker: PartitionWorker;
  revision: number;
}

/**
 * Which partitions this gateway works. Every `leaseTtl / 3`: a heartbeat, a renewal of each lease held (apart from
 * taking new ones, so a slow takeover never delays a renewal), then the fair share: ceil(partitions / nodes
 * alive). Above it, partitions are handed over (checkpoint, then the lease deleted); below it, free leases (never
 * taken, handed over, or expired because their owner died) are taken. A node cut off from NATS stops working its
 * partitions before their leases can expire, so two owners never process the same partition for long
 * (docs/cluster.md, "What is exact").
 */
export class Coordinator {
  private readonly owned = new Map<number, Owned>();
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastRenewed: number;
  private readonly renewMs: number;

  constructor(private readonly d: CoordinatorDeps) {
    this.renewMs = Math.max(250, Math.floor(d.leaseTtlMs / 3));
    this.lastRenewed = d.timers.now();
  }

  start(): void {
    this.schedule(0);
  }

  workers(): PartitionWorker[] {
    return [...this.owned.values()].map((o) => o.worker);
  }

  /** A worker found another owner's checkpoint: drop it now (its lease is gone or about to be). */
  fenced(partition: number): void {
    const o = this.owned.get(partition);
    if (o === undefined) return;
    this.owned.delete(partition);
    this.d.metrics.leasesLost.inc({ reason: 'fenced' });
    this.d.metrics.partitionsOwned.set(this.owned.size);
    void o.worker.close(false);
  }

  /** Graceful stop: every partition checkpointed and its lease deleted, then the heartbeat. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.d.timers.clearTimeout(this.timer);
    await this.running;
    await Promise.all([...this.owned.keys()].map((p) => this.release(p, 'handover')));
    await this.d.nodes.delete(this.d.nodeId).catch(() => undefined);
  }

  private schedule(ms: number): void {
    this.timer = this.d.timers.setTimeout(() => {
      this.timer = undefined;
      this.running = this.round()
        .catch((err: unknown) => this.d.log.warn({ err }, 'cluster round failed (retried)'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule(this.renewMs);
        });
    }, ms);
  }

  private async round(): Promise<void> {
    const { d } = this;
    await d.nodes.put(d.nodeId, String(d.timers.now()));
    await this.renewAll();
    if (this.stopped) return;
    let alive = 0;
    // keys() also lists a key whose last operation is a delete (a node that stopped): count live entries only.
    for await (const key of await d.nodes.keys()) if ((await d.nodes.get(key))?.operation === 'PUT') alive++;
    const share = Math.ceil(d.partitions / Math.max(1, alive));
    if (this.owned.size > share) {
      const extra = [...this.owned.keys()].slice(share);
      await Promise.all(extra.map((p) => this.release(p, 'handover')));
      return;
    }
    if (this.owned.size >= share) return;
    const owners = await d.leases.owners();
    // Start the scan at a node-specific place so that nodes starting together do not race for the same keys.
    const offset = hashOf(d.nodeId) % d.partitions;
    const free: number[] = [];
    for (let i = 0; i < d.partitions && this.owned.size + free.length < share; i++) {
      const p = (offset + i) % d.partitions;
      if (!owners.has(p) && !this.owned.has(p)) free.push(p);
    }
    // Opened side by side: one partition slow to open (a stream leader election) does not hold up the others.
    await Promise.all(free.map((p) => this.take(p)));
  }

  private async renewAll(): Promise<void> {
    const { d } = this;
    let failed = false;
    await Promise.all(
      [...this.owned].map(async ([p, o]) => {
        try {
          const r = await d.leases.renew(p, o.revision);
          if (r === undefined) {
            this.owned.delete(p);
            d.metrics.leasesLost.inc({ reason: 'renew_failed' });
            d.log.warn({ partition: p }, 'partition lease lost to another gateway: its state is dropped');
            await o.worker.close(false);
          } else o.revision = r;
        } catch (err) {
          failed = true;
          d.log.warn({ err, partition: p }, 'partition lease renewal failed');
        }
      }),
    );
    const now = d.timers.now();
    if (!failed) this.lastRenewed = now;
    else if (now - this.lastRenewed > d.leaseTtlMs * 0.8) {
      // Cut off from NATS for most of a lease: another gateway may take the partitions any moment. Stop first.
      d.log.error({ partitions: [...this.owned.keys()] }, 'leases not renewed for 80 % of cluster.leaseTtl: giving every partition up');
      const all = [...this.owned.values()];
      this.owned.clear();
      d.metrics.leasesLost.inc({ reason: 'renew_failed' }, all.length);
      await Promise.all(all.map((o) => o.worker.close(false)));
    }
    d.metrics.partitionsOwned.set(this.owned.size);
  }

  private async take(p: number): Promise<void> {
    const { d } = this;
    if (this.stopped) return;
    const revision = await d.leases.acquire(p);
    if (revision === undefined) return;
    const worker = d.newWorker(p);
    try {
      const resumed = await worker.open();
      if (resumed === undefined) {
        await d.leases.release(p, revision);
        return;
      }
      this.owned.set(p, { worker, revision });
      d.metrics.leasesTaken.inc({ how: resumed.from === 'other' ? 'takeover' : 'free' });
      d.metrics.partitionsOwned.set(this.owned.size);
      d.log.info({ partition: p, from: resumed.from, startSeq: resumed.startSeq }, 'partition taken');
    } catch (err) {
      d.log.warn({ err, partition: p, step: worker.step }, 'partition could not be opened: lease released');
      await worker.close(false);
      await d.leases.release(p, revision);
    }
  }

  private async release(p: number, reason: 'handover'): Promise<void> {
    const o = this.owned.get(p);
    if (o === undefined) return;
    this.owned.delete(p);
    const { seq, saved } = await o.worker.close(true);
    // Without a final checkpoint the lease is left to expire: the next owner replays from the last one.
    if (saved) await this.d.leases.release(p, o.revision);
    this.d.metrics.leasesLost.inc({ reason });
    this.d.metrics.partitionsOwned.set(this.owned.size);
    this.d.log.info({ partition: p, seq, saved }, 'partition handed over');
  }
}

function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

import type { Logger } from '../log.js';
import type { TimerHandle, Timers } from '../time/timers.js';
import type { Membership } from './heartbeats.js';
import type { Leases } from './leases.js';
import type { ClusterMetrics } from './metrics.js';
import type { PartitionWorker } from './partition-worker.js';

export interface CoordinatorDeps {
  readonly nodeId: string;
  readonly partitions: number;
  readonly leaseTtlMs: number;
  readonly leases: Leases;
  /** Heartbeats (same TTL as the leases): the nodes alive, for each one's fair share. */
  readonly nodes: Membership;
  readonly newWorker: (partition: number) => PartitionWorker;
  readonly metrics: ClusterMetrics;
  readonly log: Logger;
  readonly timers: Timers;
}

/**
 * A lease this node holds. `opening`: the worker loads, claims and subscribes (it can take a stream leader
 * election); `working`: it processes, is ticked and checkpointed; `closing`: its final checkpoint (handover).
 * The lease is renewed in all three.
 */
interface Held {
  readonly worker: PartitionWorker;
  revision: number;
  phase: 'opening' | 'working' | 'closing';
}

/**
 * Which partitions this gateway works. Two loops, each every `leaseTtl / 3`:
 * - the renewal of each lease held, alone, so that nothing slow elsewhere (a heartbeat write or a count of the nodes
 *   alive waiting for a JetStream leader election, a partition slow to open) ever lets a lease expire under its owner;
 * - a round: the heartbeat, then the fair share, ceil(partitions / nodes alive). Above it, partitions are handed
 *   over (checkpoint, then the lease deleted); below it, free leases (never taken, handed over, or expired because
 *   their owner died) are taken, and opened in the background.
 * A node cut off from NATS stops working its partitions before their leases can expire, so two owners never
 * process the same partition for long (docs/cluster.md, "What is exact").
 */
export class Coordinator {
  private readonly held = new Map<number, Held>();
  private readonly timers = new Set<TimerHandle>();
  private round: Promise<void> | undefined;
  private renewal: Promise<void> | undefined;
  private readonly opening = new Set<Promise<void>>();
  private stopped = false;
  private lastRenewed: number;
  private readonly renewMs: number;

  constructor(private readonly d: CoordinatorDeps) {
    this.renewMs = Math.max(250, Math.floor(d.leaseTtlMs / 3));
    this.lastRenewed = d.timers.now();
  }

  start(): void {
    this.loop(0, () => (this.renewal = this.renewAll().finally(() => (this.renewal = undefined))));
    this.loop(0, () => (this.round = this.rebalance().finally(() => (this.round = undefined))));
  }

  /** The partitions being worked (open, not closing). */
  workers(): PartitionWorker[] {
    return [...this.held.values()].filter((h) => h.phase === 'working').map((h) => h.worker);
  }

  /** A worker found another owner's checkpoint: drop it now (its lease is gone or about to be). */
  fenced(partition: number): void {
    const h = this.held.get(partition);
    if (h?.phase !== 'working') return;
    this.forget(partition, h, 'fenced');
  }

  /** Graceful stop: every partition checkpointed and its lease deleted, then the heartbeat. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) this.d.timers.clearTimeout(t);
    this.timers.clear();
    // Each has logged its own failure (loop(), open()).
    await Promise.all([this.round, this.renewal, ...this.opening].map((run) => run?.catch(() => undefined)));
    await Promise.all([...this.held.keys()].map((p) => this.release(p)));
    await this.d.nodes.leave().catch(() => undefined);
  }

  /** Runs `step` now (after `ms`) and again `renewMs` after each run ends, until stop. A failed run is retried. */
  private loop(ms: number, step: () => Promise<void>): void {
    const t = this.d.timers.setTimeout(() => {
      this.timers.delete(t);
      void step()
        .catch((err: unknown) => this.d.log.warn({ err }, 'cluster round failed (retried)'))
        .finally(() => {
          if (!this.stopped) this.loop(this.renewMs, step);
        });
    }, ms);
    this.timers.add(t);
  }

  private async rebalance(): Promise<void> {
    const { d } = this;
    // Without a heartbeat the others count this node out for a while (and take more): never a reason to stop here.
    await d.nodes.beat(d.timers.now()).catch((err: unknown) => d.log.warn({ err }, 'cluster heartbeat not written (retried)'));
    if (this.stopped) return;
    const share = Math.ceil(d.partitions / (await d.nodes.alive()));
    if (this.held.size > share) {
      const extra = [...this.held].filter(([, h]) => h.phase === 'working').slice(share - this.held.size);
      await Promise.all(extra.map(([p]) => this.release(p)));
      return;
    }
    if (this.held.size >= share || this.stopped) return;
    const owners = await d.leases.owners();
    // Start the scan at a node-specific place so that nodes starting together do not race for the same keys.
    const offset = hashOf(d.nodeId) % d.partitions;
    const free: number[] = [];
    for (let i = 0; i < d.partitions && this.held.size + free.length < share; i++) {
      const p = (offset + i) % d.partitions;
      if (!owners.has(p) && !this.held.has(p)) free.push(p);
    }
    const failed: number[] = [];
    let error: unknown;
    const acquired = await Promise.all(
      free.map(async (p) => {
        try {
          return { p, revision: await d.leases.acquire(p) };
        } catch (err) {
          failed.push(p);
          error = err;
          return { p, revision: undefined };
        }
      }),
    );
    if (failed.length > 0) d.log.warn({ err: error, partitions: failed }, 'partition leases not acquired (retried)');
    // Opened side by side and in the background: a partition slow to open (a stream leader election) holds up
    // neither the others nor the next round; its lease is renewed meanwhile.
    for (const { p, revision } of acquired) {
      if (revision === undefined) continue;
      if (this.stopped) {
        await d.leases.release(p, revision);
        continue;
      }
      const opening = this.open(p, revision).finally(() => this.opening.delete(opening));
      this.opening.add(opening);
    }
  }

  private async renewAll(): Promise<void> {
    const { d } = this;
    const failed: number[] = [];
    let error: unknown;
    await Promise.all(
      [...this.held].map(async ([p, h]) => {
        try {
          const r = await d.leases.renew(p, h.revision);
          if (this.held.get(p) !== h) return; // released or dropped meanwhile
          if (r !== undefined) h.revision = r;
          else {
            d.log.warn({ partition: p }, 'partition lease lost to another gateway: its state is dropped');
            this.forget(p, h, 'renew_failed');
          }
        } catch (err) {
          failed.push(p);
          error = err;
        }
      }),
    );
    if (failed.length > 0) d.log.warn({ err: error, partitions: failed }, 'partition leases not renewed (retried)');
    const now = d.timers.now();
    if (failed.length === 0) this.lastRenewed = now;
    else if (now - this.lastRenewed > d.leaseTtlMs * 0.8) {
      // Cut off from NATS for most of a lease: another gateway may take the partitions any moment. Stop first.
      d.log.error({ partitions: [...this.held.keys()] }, 'leases not renewed for 80 % of cluster.leaseTtl: giving every partition up');
      for (const [p, h] of [...this.held]) this.forget(p, h, 'renew_failed');
    }
  }

  /**
   * Stops holding `p` without a checkpoint: whoever takes the lease replays from the last one. A worker still
   * opening is closed by open() when it returns; one closing (handover) finishes its own close.
   */
  private forget(p: number, h: Held, reason: 'renew_failed' | 'fenced'): void {
    this.held.delete(p);
    this.d.metrics.leasesLost.inc({ reason });
    this.d.metrics.partitionsOwned.set(this.workers().length);
    if (h.phase === 'working') void h.worker.close(false);
  }

  /** Opens the worker of a partition whose lease was just acquired. */
  private async open(p: number, revision: number): Promise<void> {
    const { d } = this;
    const h: Held = { worker: d.newWorker(p), revision, phase: 'opening' };
    this.held.set(p, h);
    try {
      const resumed = await h.worker.open();
      if (this.held.get(p) !== h) {
        // Its lease was lost while it opened (not renewed in time, or the node was cut off): never worked.
        await h.worker.close(false);
        return;
      }
      if (resumed === undefined || this.stopped) {
        // Fenced by a newer claim, or the node is stopping: nothing was processed, nothing to hand over.
        await h.worker.close(false);
        await this.drop(p, h);
        return;
      }
      h.phase = 'working';
      d.metrics.leasesTaken.inc({ how: resumed.from === 'other' ? 'takeover' : 'free' });
      d.metrics.partitionsOwned.set(this.workers().length);
      d.log.info({ partition: p, from: resumed.from, startSeq: resumed.startSeq }, 'partition taken');
    } catch (err) {
      d.log.warn({ err, partition: p, step: h.worker.step }, 'partition could not be opened: lease released');
      await h.worker.close(false);
      if (this.held.get(p) === h) await this.drop(p, h);
    }
  }

  /** Handover: the worker's final checkpoint, then the lease deleted (free for the next owner at once). */
  private async release(p: number): Promise<void> {
    const h = this.held.get(p);
    if (h === undefined || h.phase !== 'working') return;
    h.phase = 'closing';
    this.d.metrics.partitionsOwned.set(this.workers().length);
    const { seq, saved } = await h.worker.close(true);
    this.d.metrics.leasesLost.inc({ reason: 'handover' });
    this.d.log.info({ partition: p, seq, saved }, 'partition handed over');
    // Without a final checkpoint the lease is left to expire: the next owner replays from the last one.
    if (saved) await this.drop(p, h);
    else if (this.held.get(p) === h) this.held.delete(p);
  }

  /** Stops holding `p` and deletes its lease, on the revision the last renewal left (none is in flight then). */
  private async drop(p: number, h: Held): Promise<void> {
    await this.renewal?.catch(() => undefined);
    if (this.held.get(p) !== h) return;
    this.held.delete(p);
    await this.d.leases.release(p, h.revision);
  }
}

function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

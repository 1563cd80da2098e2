import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { Coordinator } from '../../../gateway/cluster/coordinator.js';
import type { Membership } from '../../../gateway/cluster/heartbeats.js';
import type { Leases } from '../../../gateway/cluster/leases.js';
import { createClusterMetrics } from '../../../gateway/cluster/metrics.js';
import type { PartitionWorker } from '../../../gateway/cluster/partition-worker.js';
import { createLogger } from '../../../gateway/log.js';
import { ManualTimers } from '../../support/manual-timers.js';

/** The leases bucket in memory: create / compare-and-set / delete, and a switch that makes NATS unreachable. */
class MemoryLeases {
  readonly held = new Map<number, { node: string; revision: number }>();
  private revision = 0;
  down = false;

  constructor(private readonly node: string) {}

  as(node: string): MemoryLeases {
    const other = new MemoryLeases(node);
    (other as unknown as { held: unknown }).held = this.held;
    return other;
  }

  async acquire(p: number): Promise<number | undefined> {
    this.check();
    if (this.held.has(p)) return undefined;
    this.held.set(p, { node: this.node, revision: ++this.revision });
    return this.revision;
  }

  async renew(p: number, revision: number): Promise<number | undefined> {
    this.check();
    const h = this.held.get(p);
    if (h?.revision !== revision) return undefined;
    h.revision = ++this.revision;
    return h.revision;
  }

  async release(p: number, revision: number): Promise<void> {
    if (this.held.get(p)?.revision === revision) this.held.delete(p);
  }

  async owners(): Promise<Map<number, string>> {
    this.check();
    return new Map([...this.held].map(([p, h]) => [p, h.node]));
  }

  private check(): void {
    if (this.down) throw new Error('no connection');
  }
}

/** The heartbeats bucket in memory: the nodes alive, and a switch that makes heartbeat writes fail. */
class MemoryNodes implements Membership {
  readonly members = new Set<string>();
  beatsFail = false;

  constructor(
    private readonly self: string,
    others: string[],
  ) {
    for (const n of [self, ...others]) this.members.add(n);
  }

  async beat(): Promise<void> {
    if (this.beatsFail) throw new Error('timeout');
    this.members.add(this.self);
  }

  async alive(): Promise<number> {
    return this.members.size;
  }

  async leave(): Promise<void> {
    this.members.delete(this.self);
  }
}

function fakeWorker(p: number, log: string[], opening?: Promise<void>): PartitionWorker {
  return {
    partition: p,
    open: async () => {
      await opening;
      return { from: 'none', startSeq: 1 };
    },
    close: async (handover: boolean) => {
      log.push(`${handover ? 'handover' : 'drop'} ${p}`);
      return { seq: 0, saved: handover };
    },
    status: () => ({ partition: p, seq: 0, checkpointSeq: 0, pending: 0 }),
  } as unknown as PartitionWorker;
}

function coordinator(nodeId: string, leases: MemoryLeases, nodes: Membership, timers: ManualTimers, closed: string[], opening?: (p: number) => Promise<void>) {
  return new Coordinator({
    nodeId,
    partitions: 8,
    leaseTtlMs: 3000,
    leases: leases as unknown as Leases,
    nodes,
    newWorker: (p) => fakeWorker(p, closed, opening?.(p)),
    metrics: createClusterMetrics(new Registry()),
    log: createLogger('silent'),
    timers,
  });
}

describe('Coordinator', () => {
  it('takes its fair share: ceil(partitions / nodes alive), leaving the rest free', async () => {
    const timers = new ManualTimers();
    const leases = new MemoryLeases('a');
    const c = coordinator('a', leases, new MemoryNodes('a', ['b', 'c']), timers, []);
    c.start();
    await timers.advance(0);
    expect(c.workers()).toHaveLength(3);
    expect(leases.held.size).toBe(3);
  });

  it('hands over (checkpoint, then the lease) what exceeds its share when another node joins', async () => {
    const timers = new ManualTimers();
    const leases = new MemoryLeases('a');
    const alive = new MemoryNodes('a', []);
    const closed: string[] = [];
    const c = coordinator('a', leases, alive, timers, closed);
    c.start();
    await timers.advance(0);
    expect(c.workers()).toHaveLength(8);
    alive.members.add('b');
    await timers.advance(1000);
    expect(c.workers()).toHaveLength(4);
    expect(closed.filter((x) => x.startsWith('handover'))).toHaveLength(4);
    expect(leases.held.size).toBe(4); // the handed-over leases were deleted: free for b at once
  });

  it('gives every partition up (without a checkpoint) when it cannot renew for 80 % of the lease TTL', async () => {
    const timers = new ManualTimers();
    const leases = new MemoryLeases('a');
    const closed: string[] = [];
    const c = coordinator('a', leases, new MemoryNodes('a', ['b']), timers, closed);
    c.start();
    await timers.advance(0);
    expect(c.workers()).toHaveLength(4);
    leases.down = true;
    await timers.advance(1000);
    expect(c.workers()).toHaveLength(4); // one failed renewal: not yet
    await timers.advance(2000);
    expect(c.workers()).toHaveLength(0);
    expect(closed.every((x) => x.startsWith('drop'))).toBe(true);
  });

  it('drops a partition whose lease another node now holds (renewal refused)', async () => {
    const timers = new ManualTimers();
    const leases = new MemoryLeases('a');
    const closed: string[] = [];
    const c = coordinator('a', leases, new MemoryNodes('a', ['b']), timers, closed);
    c.start();
    await timers.advance(0);
    const [p] = c.workers().map((w) => w.partition);
    // The lease expired and b took it (a different revision).
    leases.held.set(p!, { node: 'b', revision: 10_000 });
    await timers.advance(1000);
    expect(c.workers().map((w) => w.partition)).not.toContain(p);
    expect(closed).toContain(`drop ${p}`);
  });

  it('keeps renewing its leases while a partition takes longer than the lease to open', async () => {
    const timers = new ManualTimers();
    const leases = new MemoryLeases('a');
    const alive = new MemoryNodes('a', ['b']);
    let finishOpening = (): void => {};
    const slow = new Promise<void>((r) => (finishOpening = r));
    let slowOnes = false;
    const closed: string[] = [];
    const c = coordinator('a', leases, alive, timers, closed, () => (slowOnes ? slow : Promise.resolve()));
    c.start();
    await timers.advance(0);
    const first = c.workers().map((w) => w.partition);
    expect(first).toHaveLength(4);
    // b stops: a's share becomes 8, and the 4 partitions it now takes hang in open() (a stream leader election).
    slowOnes = true;
    alive.members.delete('b');
    const revisions = () => [...leases.held.values()].map((h) => h.revision);
    await timers.advance(5_000);
    expect(leases.held.size).toBe(8);
    const before = revisions();
    await timers.advance(2_000);
    // All 8 were renewed within the lease's 3 s (one not renewed would be free for anyone): the 4 it works...
    expect(revisions().every((r, i) => r > before[i]!)).toBe(true);
    expect([...leases.held.values()].every((h) => h.node === 'a')).toBe(true);
    // ...and so were the 4 being opened: when their open returns, they are worked.
    expect(c.workers()).toHaveLength(4);
    finishOpening();
    await timers.advance(0);
    expect(c.workers()).toHaveLength(8);
    expect(closed).toEqual([]);
  });

  it('renews its leases when its heartbeat cannot be written', async () => {
    const timers = new ManualTimers();
    const leases = new MemoryLeases('a');
    const alive = new MemoryNodes('a', ['b']);
    const closed: string[] = [];
    const c = coordinator('a', leases, alive, timers, closed);
    c.start();
    await timers.advance(0);
    expect(c.workers()).toHaveLength(4);
    alive.beatsFail = true;
    const revisions = () => [...leases.held.values()].map((h) => h.revision);
    const before = revisions();
    await timers.advance(2_000);
    expect(revisions().every((r, i) => r > before[i]!)).toBe(true);
    expect(c.workers()).toHaveLength(4);
    expect(closed).toEqual([]);
  });
});

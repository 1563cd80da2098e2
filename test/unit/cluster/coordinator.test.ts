import { describe, expect, it } from 'vitest';
import type { KV } from '@nats-io/kv';
import { Registry } from 'prom-client';
import { Coordinator } from '../../../gateway/cluster/coordinator.js';
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

function memoryNodes(alive: string[]): KV {
  const m = new Map(alive.map((n) => [n, 'x']));
  return {
    put: async (k: string) => (m.set(k, 'x'), 1),
    delete: async (k: string) => void m.delete(k),
    get: async (k: string) => (m.has(k) ? { operation: 'PUT' } : null),
    keys: async () =>
      (async function* () {
        yield* [...m.keys()];
      })(),
  } as unknown as KV;
}

function fakeWorker(p: number, log: string[]): PartitionWorker {
  return {
    partition: p,
    open: async () => ({ from: 'none', startSeq: 1 }),
    close: async (handover: boolean) => {
      log.push(`${handover ? 'handover' : 'drop'} ${p}`);
      return { seq: 0, saved: handover };
    },
    status: () => ({ partition: p, seq: 0, checkpointSeq: 0, pending: 0 }),
  } as unknown as PartitionWorker;
}

function coordinator(nodeId: string, leases: MemoryLeases, nodes: KV, timers: ManualTimers, closed: string[]) {
  return new Coordinator({
    nodeId,
    partitions: 8,
    leaseTtlMs: 3000,
    leases: leases as unknown as Leases,
    nodes,
    newWorker: (p) => fakeWorker(p, closed),
    metrics: createClusterMetrics(new Registry()),
    log: createLogger('silent'),
    timers,
  });
}

describe('Coordinator', () => {
  it('takes its fair share: ceil(partitions / nodes alive), leaving the rest free', async () => {
    const timers = new ManualTimers();
    const leases = new MemoryLeases('a');
    const c = coordinator('a', leases, memoryNodes(['a', 'b', 'c']), timers, []);
    c.start();
    await timers.advance(0);
    expect(c.workers()).toHaveLength(3);
    expect(leases.held.size).toBe(3);
  });

  it('hands over (checkpoint, then the lease) what exceeds its share when another node joins', async () => {
    const timers = new ManualTimers();
    const leases = new MemoryLeases('a');
    const alive = memoryNodes(['a']);
    const closed: string[] = [];
    const c = coordinator('a', leases, alive, timers, closed);
    c.start();
    await timers.advance(0);
    expect(c.workers()).toHaveLength(8);
    await alive.put('b', 'x');
    await timers.advance(1000);
    expect(c.workers()).toHaveLength(4);
    expect(closed.filter((x) => x.startsWith('handover'))).toHaveLength(4);
    expect(leases.held.size).toBe(4); // the handed-over leases were deleted: free for b at once
  });

  it('gives every partition up (without a checkpoint) when it cannot renew for 80 % of the lease TTL', async () => {
    const timers = new ManualTimers();
    const leases = new MemoryLeases('a');
    const closed: string[] = [];
    const c = coordinator('a', leases, memoryNodes(['a', 'b']), timers, closed);
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
    const c = coordinator('a', leases, memoryNodes(['a', 'b']), timers, closed);
    c.start();
    await timers.advance(0);
    const [p] = c.workers().map((w) => w.partition);
    // The lease expired and b took it (a different revision).
    leases.held.set(p!, { node: 'b', revision: 10_000 });
    await timers.advance(1000);
    expect(c.workers().map((w) => w.partition)).not.toContain(p);
    expect(closed).toContain(`drop ${p}`);
  });
});

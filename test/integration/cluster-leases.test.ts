import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { CheckpointStoreKv } from '../../gateway/cluster/checkpoints.js';
import { Leases } from '../../gateway/cluster/leases.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';
import { waitFor } from '../support/wait.js';

/** The lease and checkpoint primitives on a real JetStream KV (one nats-server): compare-and-set, expiry, fencing. */
describe('partition leases and checkpoints on JetStream KV', () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let leasesKv: KV;
  let cpKv: KV;

  beforeAll(async () => {
    nats = await startNatsCluster(1);
    nc = await connect({ servers: nats.urls });
    const kvm = new Kvm(nc);
    leasesKv = await kvm.create('t_leases', { history: 1, ttl: 1500 });
    cpKv = await kvm.create('t_checkpoints', { history: 1 });
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('one owner at a time: create fails while held, a stale revision cannot renew, release frees it', async () => {
    const a = new Leases(leasesKv, 'a');
    const b = new Leases(leasesKv, 'b');
    const r1 = await a.acquire(1);
    expect(r1).toBeGreaterThan(0);
    expect(await b.acquire(1)).toBeUndefined();
    const r2 = await a.renew(1, r1!);
    expect(r2).toBeGreaterThan(r1!);
    expect(await a.renew(1, r1!)).toBeUndefined(); // the old revision is no longer the lease
    expect((await a.owners()).get(1)).toBe('a');
    await a.release(1, r2!);
    const rb = await b.acquire(1);
    expect(rb).toBeGreaterThan(0);
    expect((await b.owners()).get(1)).toBe('b');
  });

  it('a lease not renewed expires after the bucket TTL and can be taken', async () => {
    const a = new Leases(leasesKv, 'a');
    const b = new Leases(leasesKv, 'b');
    const ra = await a.acquire(2);
    expect(ra).toBeDefined();
    const rb = await waitFor('the lease to expire', () => b.acquire(2), 20_000, 200);
    expect(rb).toBeGreaterThan(0);
    expect(await a.renew(2, ra!)).toBeUndefined(); // the former owner learns it lost the lease
  });

  it('fences a former owner: after the new owner claims the checkpoint, the old one cannot save', async () => {
    const store = new CheckpointStoreKv(cpKv);
    const cp = (seq: number, node: string) => ({
      seq,
      node,
      savedAt: 1,
      pipeline: Uint8Array.from([seq]),
      alerts: new Uint8Array(),
      sparkplug: new Uint8Array(),
    });
    const first = await store.save(7, cp(10, 'old'), 0);
    expect(first.kind).toBe('saved');
    const oldRevision = (first as { revision: number }).revision;
    // The new owner loads and claims.
    const loaded = await store.load(7);
    expect(loaded.checkpoint?.seq).toBe(10);
    const claim = await store.save(7, { ...loaded.checkpoint!, node: 'new' }, loaded.revision);
    expect(claim.kind).toBe('saved');
    // The old owner, still running, tries its next checkpoint with the revision it knew.
    expect(await store.save(7, cp(12, 'old'), oldRevision)).toEqual({ kind: 'fenced' });
    expect((await store.load(7)).checkpoint).toMatchObject({ seq: 10, node: 'new' });
    // A second create of a checkpoint (two new owners racing) is fenced too.
    expect(await store.save(7, cp(1, 'other'), 0)).toEqual({ kind: 'fenced' });
  });
});

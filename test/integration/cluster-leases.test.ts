import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { CheckpointStoreKv } from '../../gateway/cluster/checkpoints.js';
import { KvHeartbeats } from '../../gateway/cluster/heartbeats.js';
import { Leases } from '../../gateway/cluster/leases.js';
import { startNatsCluster, type NatsCluster } from '../support/nats.js';
import { waitFor } from '../support/wait.js';

/**
 * The lease, heartbeat and checkpoint primitives on a real JetStream KV (one nats-server): compare-and-set, expiry,
 * fencing.
 */
describe('partition leases and checkpoints on JetStream KV', () => {
  let nats: NatsCluster;
  let nc: NatsConnection;
  let leasesKv: KV;
  let cpKv: KV;
  let nodesKv: KV;

  beforeAll(async () => {
    nats = await startNatsCluster(1);
    nc = await connect({ servers: nats.urls });
    const kvm = new Kvm(nc);
    leasesKv = await kvm.create('t_leases', { history: 1, ttl: 1500 });
    cpKv = await kvm.create('t_checkpoints', { history: 1 });
    nodesKv = await kvm.create('t_nodes', { history: 1, ttl: 1500 });
  });

  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('one owner at a time: create fails while held, another node cannot renew it, release frees it', async () => {
    const a = new Leases(leasesKv, 'a', 8);
    const b = new Leases(leasesKv, 'b', 8);
    const r1 = await a.acquire(1);
    expect(r1).toBeGreaterThan(0);
    expect(await b.acquire(1)).toBeUndefined();
    const r2 = await a.renew(1, r1!);
    expect(r2).toBeGreaterThan(r1!);
    expect(await b.renew(1, r1!)).toBeUndefined(); // an earlier revision of a's lease is not b's to renew
    expect((await a.owners()).get(1)).toBe('a');
    await a.release(1, r2!);
    expect((await a.owners()).has(1)).toBe(false);
    const rb = await b.acquire(1);
    expect(rb).toBeGreaterThan(0);
    expect((await b.owners()).get(1)).toBe('b');
  });

  it('keeps a lease whose renewal was stored but whose reply was lost, and only its own', async () => {
    const a = new Leases(leasesKv, 'a', 8);
    const b = new Leases(leasesKv, 'b', 8);
    const r1 = await a.acquire(3);
    expect(r1).toBeGreaterThan(0);
    // The renewal the bucket stored while its reply was lost (a timeout during a leader election).
    const stored = await leasesKv.update('p3', 'a', r1!);
    const r3 = await a.renew(3, r1!);
    expect(r3).toBeGreaterThan(stored);
    expect((await leasesKv.get('p3'))?.revision).toBe(r3);
    expect(await b.renew(3, r1!)).toBeUndefined();
    // A revision that is not behind the stored one is not adopted either: the lease was deleted and created again.
    await a.release(3, r3!);
    const rb = await b.acquire(3);
    expect(rb).toBeGreaterThan(0);
    expect(await a.renew(3, r3!)).toBeUndefined();
    expect((await b.owners()).get(3)).toBe('b');
  });

  it('a lease not renewed expires after the bucket TTL and can be taken', async () => {
    const a = new Leases(leasesKv, 'a', 8);
    const b = new Leases(leasesKv, 'b', 8);
    const ra = await a.acquire(2);
    expect(ra).toBeDefined();
    const rb = await waitFor('the lease to expire', () => b.acquire(2), 20_000, 200);
    expect(rb).toBeGreaterThan(0);
    expect(await a.renew(2, ra!)).toBeUndefined(); // the former owner learns it lost the lease
  });

  it('counts the nodes alive from their heartbeats: a node that leaves at once, one that stops beating after the TTL', async () => {
    const jsm = await jetstreamManager(nc);
    const [a, b, c] = ['a', 'b.with.dots', 'c'].map((n) => new KvHeartbeats(nodesKv, jsm, 't_nodes', n));
    expect(await a!.alive()).toBe(1); // itself, before its first heartbeat
    await Promise.all([a!.beat(1), b!.beat(1), c!.beat(1)]);
    expect(await a!.alive()).toBe(3);
    expect(await b!.alive()).toBe(3);
    await b!.leave();
    expect(await a!.alive()).toBe(2);
    // c stops beating; a goes on.
    await waitFor(
      "c's heartbeat to expire",
      async () => {
        await a!.beat(2);
        return (await a!.alive()) === 1;
      },
      20_000,
      200,
    );
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

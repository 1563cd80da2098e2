import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { RateLimitedLog } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Timers } from '../time/timers.js';
import { CheckpointStoreKv } from './checkpoints.js';
import { connectNats } from './connect.js';
import { watchConnection, type ConnectionState } from './connection-state.js';
import { Coordinator } from './coordinator.js';
import { KvHeartbeats } from './heartbeats.js';
import { ensureStream, IngestFront } from './ingest-front.js';
import { Leases } from './leases.js';
import { createClusterMetrics } from './metrics.js';
import { clusterNames, type ClusterNames } from './names.js';
import { PartitionStates, type PartitionParts } from './partition-state.js';
import { PartitionWorker } from './partition-worker.js';
import { Relay } from './relay.js';

export interface ClusterNodeDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly timers: Timers;
  /** What each partition's state is built from (pipeline settings, outputs, alert services). */
  readonly parts: Omit<PartitionParts, 'metrics' | 'rejectLog' | 'log'>;
  /** outbox.flush(). */
  readonly commitEmitted: () => void;
}

export interface ClusterStatus {
  readonly nodeId: string;
  readonly nats: { connected: boolean; server: string | undefined };
  readonly partitions: { total: number; owned: readonly { partition: number; seq: number; checkpointSeq: number; pending: number }[] };
}

/**
 * One gateway's part of the cluster (docs/cluster.md): the front end (the broker's gate: ingest publishes to the
 * stream), the workers of the partitions it holds the leases of, and the relay of publishes on other topics.
 * Built only when cluster.enabled (app.ts imports this module dynamically).
 */
export class ClusterNode {
  private constructor(
    private readonly nc: NatsConnection,
    /** Between a `disconnect` and the next `reconnect` status of the NATS connection: /health says degraded. */
    private readonly connection: ConnectionState,
    readonly names: ClusterNames,
    readonly front: IngestFront,
    readonly relay: Relay,
    private readonly coordinator: Coordinator,
    private readonly config: GatewayConfig,
  ) {}

  static async connect(config: GatewayConfig, deps: ClusterNodeDeps): Promise<ClusterNode> {
    const c = config.cluster;
    const nodeId = c.nodeId!;
    const log = deps.log.child({ part: 'cluster', nodeId });
    const names = clusterNames(config.gatewayId);
    const nc = await connectNats(c, `gateway ${config.gatewayId}/${nodeId}`);
    try {
      const cm = createClusterMetrics(deps.metrics.registry);
      await ensureStream(nc, names, c);
      const kvm = new Kvm(nc);
      const ttl = c.leaseTtl;
      // Lease and heartbeat writes wait at most a renewal period (not the client's 5 s, more than a short lease):
      // a write lost in a leader election is tried again while the lease still holds.
      const leaseKvm = new Kvm(jetstream(nc, { timeout: Math.min(5000, Math.max(1000, Math.floor(ttl / 3))) }));
      const [leasesKv, checkpointsKv, nodesKv, retainedKv] = await Promise.all([
        leaseKvm.create(names.leases, { replicas: c.replicas, history: 1, ttl }),
        kvm.create(names.checkpoints, { replicas: c.replicas, history: 1 }),
        leaseKvm.create(names.nodes, { replicas: c.replicas, history: 1, ttl }),
        kvm.create(names.retained, { replicas: c.replicas, history: 1 }),
      ]);
      const js = jetstream(nc, { timeout: 10_000 });
      const jsm = await jetstreamManager(nc);
      const store = new CheckpointStoreKv(checkpointsKv);
      const states = new PartitionStates({ ...deps.parts, metrics: deps.metrics, rejectLog: new RateLimitedLog(log.child({ part: 'ingest' })), log });
      const front = new IngestFront({ nc, names, config, metrics: cm, log: new RateLimitedLog(log) });
      const connection = watchConnection(nc);
      const relay = new Relay({ nc, connection, subject: names.relay, retained: retainedKv, nodeId, metrics: cm, log });
      let coordinator: Coordinator | undefined = undefined;
      coordinator = new Coordinator({
        nodeId,
        partitions: c.partitions,
        leaseTtlMs: ttl,
        leases: new Leases(leasesKv, nodeId, c.partitions),
        nodes: new KvHeartbeats(nodesKv, jsm, names.nodes, nodeId),
        metrics: cm,
        log,
        timers: deps.timers,
        newWorker: (p) =>
          new PartitionWorker(p, {
            nodeId,
            js,
            jsm,
            names,
            store,
            states,
            commitEmitted: deps.commitEmitted,
            metrics: cm,
            log,
            now: deps.timers.now,
            onFenced: (q) => coordinator?.fenced(q),
          }),
      });
      return new ClusterNode(nc, connection, names, front, relay, coordinator, config);
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  /** Starts taking partitions. */
  start(): void {
    this.coordinator.start();
  }

  /** The pipeline tick: idle close and alert clocks of every partition worked here. */
  tick(now: number): void {
    for (const w of this.coordinator.workers()) w.idleTick(now, this.config.cluster.idleGrace);
  }

  /** Periodic checkpoints (durability.checkpointInterval). */
  async checkpoint(): Promise<void> {
    // Each worker contains its own failures (logged, counted, retried); this never rejects.
    await Promise.all(this.coordinator.workers().map((w) => w.checkpoint().catch(() => false)));
  }

  status(): ClusterStatus {
    const server = this.nc.getServer();
    return {
      nodeId: this.config.cluster.nodeId!,
      nats: { connected: this.connection.connected, server: server === '' ? undefined : server },
      partitions: {
        total: this.config.cluster.partitions,
        owned: this.coordinator
          .workers()
          .map((w) => w.status())
          .sort((a, b) => a.partition - b.partition),
      },
    };
  }

  /** Graceful stop, after the broker stopped reading: acknowledged publishes stored, partitions handed over. */
  async stop(): Promise<void> {
    await this.front.drain();
    await this.coordinator.stop();
    this.relay.close();
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => undefined);
  }
}

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The cluster's metrics, registered next to the gateway's (only when cluster.enabled). */
export function createClusterMetrics(registry: Registry) {
  return {
    partitionsOwned: new Gauge({
      name: 'gateway_cluster_partitions_owned',
      help: 'Partitions of the ingest stream this gateway works now (holds the lease of)',
      registers: [registry],
    }),
    partitionLag: new Gauge<'partition'>({
      name: 'gateway_cluster_partition_lag',
      help: 'Per owned partition: stream messages not yet processed (consumer pending)',
      labelNames: ['partition'],
      registers: [registry],
    }),
    checkpointLag: new Gauge<'partition'>({
      name: 'gateway_cluster_checkpoint_lag',
      help: 'Per owned partition: stream sequence processed - sequence of the last checkpoint (what a takeover replays)',
      labelNames: ['partition'],
      registers: [registry],
    }),
    leasesTaken: new Counter<'how'>({
      name: 'gateway_cluster_leases_taken_total',
      help: 'Partition leases acquired, by how: free (never owned or handed over) or takeover (a checkpoint of another node was resumed)',
      labelNames: ['how'],
      registers: [registry],
    }),
    leasesLost: new Counter<'reason'>({
      name: 'gateway_cluster_leases_lost_total',
      help: 'Partitions given up, by reason: handover (rebalance or stop), renew_failed, fenced (another owner checkpointed)',
      labelNames: ['reason'],
      registers: [registry],
    }),
    consumersRestarted: new Counter({
      name: 'gateway_cluster_consumers_restarted_total',
      help: 'Partition consumers that fell silent (no message, no heartbeat for 3 s: their NATS server is gone) and were started again after the last message processed',
      registers: [registry],
    }),
    publishSeconds: new Histogram({
      name: 'gateway_cluster_publish_seconds',
      help: 'JetStream publish latency of QoS 1 ingest publishes (until the stream acknowledged; the PUBACK follows)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    publishFailed: new Counter<'qos'>({
      name: 'gateway_cluster_publish_failed_total',
      help: 'Ingest publishes JetStream did not acknowledge after retries: QoS 1 closes the connection (the device resends), QoS 0 is lost',
      labelNames: ['qos'],
      registers: [registry],
    }),
    checkpoints: new Counter<'result'>({
      name: 'gateway_cluster_checkpoints_total',
      help: 'Partition checkpoints, by result: saved, unchanged, failed, fenced',
      labelNames: ['result'],
      registers: [registry],
    }),
    relayed: new Counter<'direction'>({
      name: 'gateway_cluster_relayed_total',
      help: 'Publishes on non-ingest topics (alerts, commands; by clients or the gateway) handed to the other gateways (out), received from them (in), not relayed because NATS was down or did not confirm a QoS 1 one (failed), or refused on arrival (rejected)',
      labelNames: ['direction'],
      registers: [registry],
    }),
  };
}

export type ClusterMetrics = ReturnType<typeof createClusterMetrics>;

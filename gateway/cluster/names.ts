/**
 * The names a cluster of gateways uses in NATS, all derived from gatewayId (the site: the same on every gateway
 * of the cluster), so two sites can share one NATS system. Stream and bucket names allow [A-Za-z0-9_-]; subject
 * tokens may not contain '.', '*', '>' or spaces: ID_PATTERN's '.' becomes '_'.
 */
export interface ClusterNames {
  /** The ingest stream: one subject per partition, `{subjects}.{partition}`. */
  readonly stream: string;
  readonly subjects: string;
  /** KV: partition -> owning node (the lease), with a TTL. */
  readonly leases: string;
  /** KV: partition -> checkpoint {stream sequence, pipeline + alert state}. */
  readonly checkpoints: string;
  /** KV: node -> heartbeat (who is alive, for the fair share of partitions). */
  readonly nodes: string;
  /** KV: the retained messages the gateways publish (alert states), for a gateway that starts later. */
  readonly retained: string;
  /** Core NATS subject on which gateways hand each other their own publishes (alerts, device commands). */
  readonly relay: string;
}

export function clusterNames(gatewayId: string): ClusterNames {
  const base = gatewayId.replace(/[^A-Za-z0-9_-]/g, '_');
  return {
    stream: `GW_${base}_INGEST`,
    subjects: `gw.${base}.ingest`,
    leases: `gw_${base}_leases`,
    checkpoints: `gw_${base}_checkpoints`,
    nodes: `gw_${base}_nodes`,
    retained: `gw_${base}_retained`,
    relay: `gw.${base}.relay`,
  };
}

export const partitionSubject = (names: ClusterNames, partition: number): string => `${names.subjects}.${partition}`;

/** The KV key of a partition's lease and checkpoint. */
export const partitionKey = (partition: number): string => `p${partition}`;

/**
 * A device's partition: FNV-1a (32 bit) of its id, mod `partitions`. A function of the id only, stable across
 * processes, versions and machines (device ids are ASCII, ID_PATTERN), so every front end agrees on it.
 */
export function partitionOf(device: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < device.length; i++) {
    h ^= device.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}

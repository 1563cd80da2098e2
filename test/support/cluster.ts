import type { ClusterStatus } from '../../gateway/cluster/node.js';
import type { TestGateway } from './gateway.js';
import { startTestGateway } from './gateway.js';

/** The `cluster` config section of a test gateway on `natsUrls`: few partitions, short leases (fast takeovers). */
export function clusterOverrides(nodeId: string, natsUrls: readonly string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { enabled: true, nodeId, nats: { servers: [...natsUrls] }, partitions: 8, replicas: 3, leaseTtl: '3s', idleGrace: '500ms', ...extra };
}

/**
 * A cluster gateway in this process (gatewayId `cl-gw`, the same on every node: the `gateway` tag of all points);
 * `sections`: more config sections (e.g. sparkplug).
 */
export async function startClusterGateway(
  influxUrl: string,
  nodeId: string,
  natsUrls: readonly string[],
  rules?: string,
  sections: Record<string, Record<string, unknown>> = {},
): Promise<TestGateway> {
  return startTestGateway({
    influxUrl,
    overrides: { gatewayId: 'cl-gw', cluster: clusterOverrides(nodeId, natsUrls), durability: { checkpointInterval: '500ms' }, ...sections },
    ...(rules !== undefined ? { rules } : {}),
  });
}

/** /health's cluster section of a gateway (in process or child). */
export async function clusterStatus(httpUrl: string): Promise<ClusterStatus> {
  const body = (await (await fetch(`${httpUrl}/health`)).json()) as { cluster: ClusterStatus };
  return body.cluster;
}

export const ownedPartitions = async (httpUrl: string): Promise<number[]> => (await clusterStatus(httpUrl)).partitions.owned.map((p) => p.partition);

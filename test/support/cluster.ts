import { join } from 'node:path';
import type { ClusterStatus } from '../../gateway/cluster/node.js';
import type { TestGateway } from './gateway.js';
import { startTestGateway } from './gateway.js';
import { portsOf, prepareGateway, spawnGateway, type GatewayFolder, type GatewayProcess } from './process.js';
import { waitFor } from './wait.js';

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

/**
 * Two gateway processes (`gw-a`, `gw-b`, folders below `root`, the broker on the main thread) of the cluster
 * `gatewayId` on `natsUrls`, checkpointing every 500 ms: a first takes every partition, then b joins and both hold
 * their share (4 of 8). `sections`: more config sections.
 */
export async function spawnClusterPair(
  root: string,
  influxUrl: string,
  natsUrls: readonly string[],
  gatewayId: string,
  sections: Record<string, Record<string, unknown>> = {},
): Promise<{ folders: GatewayFolder[]; procs: (GatewayProcess | undefined)[] }> {
  const folders: GatewayFolder[] = [];
  for (const node of ['gw-a', 'gw-b']) {
    folders.push(
      await prepareGateway(join(root, node), influxUrl, {
        gatewayId,
        mqtt: { brokerThread: 'off' },
        cluster: clusterOverrides(node, natsUrls),
        durability: { checkpointInterval: '500ms' },
        ...sections,
      }),
    );
  }
  const procs: (GatewayProcess | undefined)[] = [await spawnGateway(folders[0]!.configFile, { ports: portsOf(folders[0]!) })];
  await waitFor('a owns every partition', async () => (await ownedPartitions(procs[0]!.httpUrl)).length === 8, 60_000, 200);
  procs.push(await spawnGateway(folders[1]!.configFile, { ports: portsOf(folders[1]!) }));
  await waitFor(
    'shares',
    async () => (await ownedPartitions(procs[0]!.httpUrl)).length === 4 && (await ownedPartitions(procs[1]!.httpUrl)).length === 4,
    60_000,
    200,
  );
  return { folders, procs };
}

import { createDeviceAccess, type DeviceAccess } from '../auth/index.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { BrokerFront, IngestGate, PublishRelay } from './front.js';
import { BrokerThread } from './thread/broker-thread.js';
import { useBrokerThread, type BrokerWorker } from './thread/worker-start.js';

export interface BrokerEdge {
  /** Device registry (auth.devicesFile, hot-reloaded), authentication, roles and topic ACL. */
  readonly devices: DeviceAccess;
  /**
   * Creates the broker (aedes in this thread or in the broker thread), its sessions store included, with `gate`.
   * aedes is loaded on this thread only when the broker runs here (start-up to the first CONNACK, BENCHMARKS.md).
   * With `relay` (cluster mode), client publishes on non-ingest topics are also handed to it (front.ts PublishRelay).
   */
  readonly createBroker: (gate: IngestGate, relay?: PublishRelay) => Promise<BrokerFront>;
}

/**
 * The MQTT edge both composition roots share (through compose/base.ts): the device registry and the broker built
 * from the same config, so mqtt.* (sessions store, limits, listeners) and the registry's roles hold the same way for
 * a single gateway and a cluster node; only the gate (what an ingest publish becomes) and, on a cluster node, the
 * relay of the other publishes (cluster/relay.ts) differ.
 */
export function createBrokerEdge(
  config: GatewayConfig,
  deps: {
    readonly log: Logger;
    readonly metrics: Metrics;
    readonly now: () => number;
    readonly onFatal?: (err: Error) => void;
    /** The broker thread started early by main.ts (GatewayDeps.brokerWorker). */
    readonly brokerWorker?: BrokerWorker;
  },
): BrokerEdge {
  const { log, metrics, now } = deps;
  const threaded = useBrokerThread(config.mqtt.brokerThread);
  // With the broker thread, its copy of the registry (the one that closes connections) reports the file.
  const devices = createDeviceAccess(config, {
    log: log.child({ part: 'auth' }),
    metrics,
    announce: !threaded,
    onReload: (result) => metrics.devicesReloads.inc({ result }),
  });
  return {
    devices,
    createBroker: async (gate, relay) =>
      threaded
        ? new BrokerThread(config, {
            log,
            metrics,
            gate,
            now,
            ...(relay ? { relay } : {}),
            ...(deps.onFatal ? { onFailure: deps.onFatal } : {}),
            ...(deps.brokerWorker ? { worker: deps.brokerWorker } : {}),
          })
        : new (await import('./in-process.js')).InProcessBroker(config, { log, metrics, devices, gate, now, ...(relay ? { relay } : {}) }),
  };
}

import { createBrokerEdge, type BrokerEdge } from '../broker/create.js';
import type { DeviceAccess } from '../auth/index.js';
import type { GatewayConfig } from '../config/schema.js';
import { openDataDir } from '../data-dir/open.js';
import type { DataDirLock } from '../data-dir/lock.js';
import type { GatewayDeps } from '../gateway.js';
import type { Logger } from '../log.js';
import { createMetrics, enableProcessMetrics, type Metrics } from '../metrics.js';
import type { MovedAside } from '../persist/sqlite.js';
import { systemTimers, type Timers } from '../time/timers.js';

/**
 * What both composition roots (app.ts for a single gateway, cluster/gateway.ts for a cluster node) build first, in
 * the same order: the data folder's lock, the metrics, the MQTT edge (registry, roles, ACL, the broker's factory)
 * and the record of SQLite files moved aside. Opens no socket and no database; the broker is created by the root,
 * with the gate that says what an ingest publish becomes there.
 */
export interface GatewayBase {
  readonly config: GatewayConfig;
  readonly deps: GatewayDeps;
  readonly log: Logger;
  /** The gateway clock (deps.now, else Date.now); timers run on real time. */
  readonly now: () => number;
  readonly timers: Timers;
  readonly metrics: Metrics;
  /** buffer.dir, locked: released by stop() after the last write to the folder. */
  readonly dataDir: DataDirLock;
  readonly startedAt: number;
  readonly edge: BrokerEdge;
  readonly devices: DeviceAccess;
  /** The SQLite files moved aside at open in this run (shown in /health until the next start). */
  readonly movedAside: readonly MovedAside[];
  /** Given to every SQLite file's open (outbox.db, state.db): records and counts a file moved aside. */
  readonly onMovedAside: (m: MovedAside) => void;
}

export function composeBase(config: GatewayConfig, deps: GatewayDeps): GatewayBase {
  const log = deps.log;
  const now = deps.now ?? Date.now;
  // Before anything in buffer.dir is read: two gateways on one folder would replay and emit each other's state.
  const dataDir = openDataDir(config.buffer.dir, { log, now });
  const metrics = createMetrics();
  enableProcessMetrics(metrics.registry);
  const startedAt = now();
  // Registry, roles, ACL and the broker with its sessions store (mqtt.sessions), built the same way in both roots.
  const edge = createBrokerEdge(config, { ...deps, metrics, now });
  // A SQLite file found corrupt or of an unknown format is moved aside at open: counted, and shown in /health
  // (status degraded) until the next start, for its data is lost to InfluxDB (docs/durability.md).
  const movedAside: MovedAside[] = [];
  const onMovedAside = (m: MovedAside) => {
    movedAside.push(m);
    metrics.databasesMovedAside.inc({ database: m.database, reason: m.reason });
  };
  return {
    config,
    deps,
    log,
    now,
    timers: { ...systemTimers, now },
    metrics,
    dataDir,
    startedAt,
    edge,
    devices: edge.devices,
    movedAside,
    onMovedAside,
  };
}

import type { Gateway, GatewayDeps } from '../gateway.js';
import { buildAdmin, type HealthReport } from '../admin/server.js';
import { thresholdsApi } from '../admin/thresholds-api.js';
import { LiveView } from '../admin/live/live-view.js';
import { operatorPage } from '../admin/web/operator-page.js';
import { AlertPublisher } from '../alerts/publisher.js';
import { AlertService } from '../alerts/service.js';
import type { BrokerFront } from '../broker/front.js';
import { createBrokerEdge } from '../broker/create.js';
import type { GatewayConfig } from '../config/schema.js';
import { openDataDir } from '../data-dir/open.js';
import { createMetrics, enableProcessMetrics } from '../metrics.js';
import { createOutbox } from '../outbox/create.js';
import type { MovedAside } from '../persist/sqlite.js';
import type { WindowPoint } from '../pipeline/types.js';
import { influxAndOutboxHealth } from '../health-parts.js';
import { windowToPoint } from '../sink/point.js';
import { StatsReporter } from '../stats/reporter.js';
import { systemTimers } from '../time/timers.js';
import { RateLimitedLog } from '../log.js';
import { SparkplugService } from '../sparkplug/service.js';
import { ClusterNode } from './node.js';

/**
 * buildGateway for cluster.enabled (docs/cluster.md): the same broker, outbox, admin and alert publishing as the
 * single gateway (app.ts), but the broker's gate puts ingest publishes on the JetStream stream and the pipeline
 * runs per partition, in the workers of the partitions this gateway holds. No ingest log or state.db: the stream
 * is the log, the KV bucket holds the checkpoints.
 */
export async function buildClusterGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const timers = { ...systemTimers, now };
  const dataDir = openDataDir(config.buffer.dir, { log, now });
  const metrics = createMetrics();
  enableProcessMetrics(metrics.registry);
  const startedAt = now();
  // The same registry, roles, ACL and broker (sessions store: mqtt.sessions) as a single gateway (app.ts).
  const edge = createBrokerEdge(config, { log, metrics, now, ...(deps.onFatal ? { onFatal: deps.onFatal } : {}) });
  const devices = edge.devices;
  const movedAside: MovedAside[] = [];
  const { outbox } = createOutbox(config, {
    metrics,
    log,
    onMovedAside: (m) => {
      movedAside.push(m);
      metrics.databasesMovedAside.inc({ database: m.database, reason: m.reason });
    },
  });
  const alertPublisher = new AlertPublisher({ outbox, gatewayId: config.gatewayId, log });
  const alertDeps = {
    rulesFile: config.alerts.rulesFile,
    log: log.child({ part: 'alerts' }),
    metrics,
    now,
    publish: (e: Parameters<AlertPublisher['publish']>[0]) => alertPublisher.publish(e),
    retain: (e: Parameters<AlertPublisher['retain']>[0]) => alertPublisher.retain(e),
  };
  // The rules API's service (reads and writes the rules file); each partition runs a service of its own.
  const alerts = new AlertService({ ...alertDeps, publish: () => {} });
  alerts.start();
  const live = new LiveView(now());
  const emitWindow = (w: WindowPoint) => {
    live.onWindow(w);
    metrics.windowsEmitted.inc();
    if (w.revision > 0) metrics.windowsCorrected.inc();
    const point = windowToPoint(w, config.influx.measurement, config.gatewayId);
    const extra = devices.tagsOf(w.device);
    outbox.append([extra ? { ...point, tags: { ...extra, ...point.tags } } : point]);
  };
  // Sparkplug B (docs/sparkplug.md, docs/cluster.md): decoding, counters, rebirth requests and the STATE of the
  // cluster's one primary host here; the edge nodes' sessions live in the partitions' hosts (partition-state.ts).
  const sp = config.sparkplug;
  const sparkplug = new SparkplugService({
    settings: { reorderTimeoutMs: sp.reorderTimeout, rebirthBackoffMs: sp.rebirthBackoff, rebirthBackoffMaxMs: sp.rebirthBackoffMax },
    hostId: sp.hostId,
    registry: metrics.registry,
    maxPayloadBytes: config.mqtt.maxPayloadBytes,
    now,
    stale: (device) => live.markOffline(device),
    log: new RateLimitedLog(log.child({ part: 'sparkplug' })),
  });
  const node = await ClusterNode.connect(config, {
    log,
    metrics,
    timers,
    commitEmitted: () => outbox.flush(),
    parts: {
      settings: {
        intervalMs: config.pipeline.interval,
        allowedLatenessMs: config.pipeline.allowedLateness,
        correctionHorizonMs: config.pipeline.correctionHorizon,
        dedupHorizonMs: config.pipeline.dedupHorizon,
        maxSensorsPerDevice: config.pipeline.maxSensorsPerDevice,
      },
      output: { window: emitWindow, reading: (r) => live.onReading(r) },
      newAlerts: () => {
        const a = new AlertService(alertDeps);
        a.start();
        return a;
      },
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      sparkplug,
      offline: (device) => live.markOffline(device),
    },
  });
  const gate = node.front.gate;
  const broker: BrokerFront = await edge.createBroker(gate);
  await broker.started();
  await node.relay.attach(broker);
  alertPublisher.attach(node.relay.publisher);
  // Rebirth requests reach the edge node whichever gateway it is connected to; STATE (retained) every gateway.
  sparkplug.attach(node.relay.publisher);

  let listening = false;
  const health = (): HealthReport => {
    const o = outbox.status();
    const cluster = node.status();
    return {
      status: o.influxUp && movedAside.length === 0 && cluster.nats.connected ? 'ok' : 'degraded',
      gatewayId: config.gatewayId,
      uptimeSeconds: Math.max(0, Math.round((now() - startedAt) / 1000)),
      broker: { listening, clients: broker.connectedClients },
      ...influxAndOutboxHealth(config, o),
      alerts: { rules: alerts.status() },
      devices: { registered: devices.registry.size, file: config.auth.devicesFile, anonymous: config.auth.anonymous, errors: devices.fileErrors() },
      storage: {
        movedAside: movedAside.map((m) => ({ database: m.database, reason: m.reason, movedTo: m.movedTo, detail: m.detail, at: new Date(m.at).toISOString() })),
      },
      sparkplug: sparkplug.status(),
      cluster,
    };
  };
  const admin = await buildAdmin(
    {
      log,
      registry: metrics.registry,
      health,
      bindHost: config.http.host,
      allowedHosts: config.http.allowedHosts,
      maxBodyBytes: config.http.maxBodyBytes,
      onRejected: (reason) => metrics.adminRejected.inc({ reason }),
    },
    [thresholdsApi(alerts), operatorPage({ live, alerts, gatewayId: config.gatewayId, token: config.http.token, now, log }), ...(deps.adminPlugins ?? [])],
  );
  const stats = new StatsReporter({ metrics, outbox, gatewayId: config.gatewayId, intervalMs: config.pipeline.interval, log, timers });
  let ticker: NodeJS.Timeout | undefined;
  let checkpoints: NodeJS.Timeout | undefined;
  const ports = { mqtt: 0, ws: undefined as number | undefined, tls: undefined as number | undefined, http: 0 };
  let stopped = false;
  // What the gateway itself publishes (alert states, commands to devices) reaches subscribers on every gateway.
  const front: BrokerFront = {
    started: () => broker.started(),
    listen: () => broker.listen(),
    publish: (packet, done) => node.relay.publisher.publish(packet, done),
    get connectedClients() {
      return broker.connectedClients;
    },
    close: () => broker.close(),
  };
  return {
    config,
    metrics,
    outbox,
    alerts,
    broker: front,
    admin,
    devices,
    ports,
    async start() {
      outbox.start();
      stats.start();
      node.start();
      const bound = await broker.listen();
      listening = true;
      Object.assign(ports, { mqtt: bound.mqtt, ws: bound.ws, tls: bound.tls });
      await admin.listen({ host: config.http.host, port: config.http.port });
      const address = admin.server.address();
      ports.http = typeof address === 'object' && address !== null ? address.port : config.http.port;
      log.info({ port: ports.http, host: config.http.host, nodeId: config.cluster.nodeId }, 'admin HTTP listening (cluster node)');
      ticker = setInterval(() => node.tick(now()), config.pipeline.tick);
      checkpoints = setInterval(() => void node.checkpoint(), config.durability.checkpointInterval);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (ticker) clearInterval(ticker);
      if (checkpoints) clearInterval(checkpoints);
      // The cluster's primary host stays online on the other gateways: offline only on this one's broker, whose
      // edge nodes are about to be disconnected (docs/cluster.md, "Sparkplug B").
      await sparkplug.offline(broker);
      await broker.close();
      await node.stop();
      await stats.stop();
      alerts.close();
      devices.close();
      await outbox.close();
      await node.close();
      dataDir.release();
      await admin.close();
    },
  };
}

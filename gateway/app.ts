import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { AdminRejectReason, HealthReport } from './admin/server.js';
import { LiveView } from './admin/live/live-view.js';
import { AlertHistory } from './alerts/alert-history.js';
import { AlertSilencer } from './alerts/silences.js';
import { AlertPublisher } from './alerts/publisher.js';
import { AlertService } from './alerts/service.js';
import type { AlertEvent } from './alerts/types.js';
import type { BrokerFront, IngestGate } from './broker/front.js';
import { createBrokerEdge } from './broker/create.js';
import type { GatewayConfig } from './config/schema.js';
import { Ingest } from './ingest.js';
import { RateLimitedLog } from './log.js';
import { influxAndOutboxHealth } from './health-parts.js';
import { createMetrics, enableProcessMetrics, type Metrics } from './metrics.js';
import { openDataDir } from './data-dir/open.js';
import { createOutbox } from './outbox/create.js';
import type { MovedAside } from './persist/sqlite.js';
import { Pipeline } from './pipeline/pipeline.js';
import type { WindowPoint } from './pipeline/types.js';
import { windowToPoint } from './sink/point.js';
import type { IngestRecord } from './state/ingest-log.js';
import { DurableState } from './state/durable-state.js';
import { SparkplugService } from './sparkplug/service.js';
import { StatsReporter } from './stats/reporter.js';
import { systemTimers } from './time/timers.js';
import type { Gateway, GatewayDeps } from './gateway.js';

export type { Gateway, GatewayDeps } from './gateway.js';

/**
 * Wires the parts of the gateway: broker -> ingest -> pipeline -> (alerts, outbox) -> InfluxDB, plus the admin
 * app. Locks the data folder (DataDirLockedError when another process holds it), opens the SQLite files and
 * restores the last checkpoint, but opens no socket until start(), which listens for MQTT first and then builds
 * and starts the admin app. The lock is held until stop() returns (or the process ends, also when the build
 * fails).
 */
export async function buildGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  // A cluster node (docs/cluster.md) is composed apart; with cluster.enabled false none of it is loaded.
  if (config.cluster.enabled) return (await import('./cluster/gateway.js')).buildClusterGateway(config, deps);
  const log = deps.log;
  const now = deps.now ?? Date.now;
  // Before anything in buffer.dir is read: two gateways on one folder would replay and emit each other's state.
  const dataDir = openDataDir(config.buffer.dir, { log, now });
  const metrics = createMetrics();
  enableProcessMetrics(metrics.registry);
  const startedAt = now();

  // Registry, roles, ACL and the broker with its sessions store (mqtt.sessions): shared with cluster/gateway.ts.
  const edge = createBrokerEdge(config, { log, metrics, now, ...(deps.onFatal ? { onFatal: deps.onFatal } : {}) });
  const devices = edge.devices;
  // Start-up to the first CONNACK (BENCHMARKS.md, start-up): the broker thread loads aedes on its own thread while
  // this one opens the SQLite files and restores the checkpoint below; it opens no socket before start(), and the
  // gate takes no publish before then. fastify and the admin routes are not needed before the first CONNACK
  // either: their modules load meanwhile and start() builds the admin app once MQTT listens; aedes is loaded on
  // this thread only when the broker runs here.
  const adminModules = Promise.all([
    import('./admin/server.js'),
    import('./admin/thresholds-api.js'),
    import('./admin/web/operator-page.js'),
    import('./admin/rules-history-api.js'),
    import('./admin/alerts-view-api.js'),
    import('./admin/rules-dry-run.js'),
    import('./alerts/rules-history.js'),
  ]);
  adminModules.catch(() => undefined); // awaited below; a failure before then must not be an unhandled rejection
  // `state` is created below; the gate is first called after start().
  const gate: IngestGate = (topic, payload, qos, receivedAt, done) => state.accept(topic, payload, qos, receivedAt, done);
  const broker: BrokerFront = await edge.createBroker(gate);
  // The broker (thread) already runs: a build that fails from here on closes it, or it would keep the process alive.
  const orClose = <T>(f: () => T): T => {
    try {
      return f();
    } catch (err) {
      void broker.close().catch(() => undefined);
      throw err;
    }
  };
  // A SQLite file found corrupt or of an unknown format is moved aside at open: counted, and shown in /health
  // (status degraded) until the next start, for its data is lost to InfluxDB (docs/durability.md).
  const movedAside: MovedAside[] = [];
  const onMovedAside = (m: MovedAside) => {
    movedAside.push(m);
    metrics.databasesMovedAside.inc({ database: m.database, reason: m.reason });
  };
  const { outbox } = orClose(() => createOutbox(config, { metrics, log, onMovedAside }));
  // Checkpoints + ingest log (state.db): QoS 1 publishes are on disk before PUBACK (docs/durability.md).
  const state = orClose(() => new DurableState(config, { log, metrics, timers: { ...systemTimers, now }, onMovedAside }));

  // Alert events -> `alerts` points (outbox) + retained MQTT; MQTT waits for attach(broker) below.
  const alertPublisher = new AlertPublisher({ outbox, gatewayId: config.gatewayId, log });
  // Silenced rules publish nothing (alerts/silences.ts); every change goes to the page's history.
  const alertHistory = new AlertHistory();
  const silencer = new AlertSilencer(
    (events) => alertPublisher.publish(events),
    () => alerts.firing(),
  );
  const publishAlerts = (events: readonly AlertEvent[]) => {
    state.touch();
    const held = silencer.publish(events, now());
    for (const e of held) metrics.alertsSilenced.inc({ rule: e.rule });
    alertHistory.record(events, held, now());
  };
  const alerts = new AlertService({
    rulesFile: config.alerts.rulesFile,
    log: log.child({ part: 'alerts' }),
    metrics,
    now,
    publish: publishAlerts,
    retain: (events) => (silencer.noteRetained(events), alertPublisher.retain(events)),
  });
  alerts.start();
  // The operator page's live view: last value, rate and window means per sensor (O(1) per reading).
  const live = new LiveView(now());

  const emitWindow = (w: WindowPoint) => {
    state.touch();
    live.onWindow(w);
    metrics.windowsEmitted.inc();
    if (w.revision > 0) metrics.windowsCorrected.inc();
    const point = windowToPoint(w, config.influx.measurement, config.gatewayId);
    // Registry tags (site, room, ...) go on the device's points; the schema keeps them off gateway/device/sensor.
    const extra = devices.tagsOf(w.device);
    outbox.append([extra ? { ...point, tags: { ...extra, ...point.tags } } : point]);
  };
  const settings = {
    intervalMs: config.pipeline.interval,
    allowedLatenessMs: config.pipeline.allowedLateness,
    correctionHorizonMs: config.pipeline.correctionHorizon,
    dedupHorizonMs: config.pipeline.dedupHorizon,
    maxSensorsPerDevice: config.pipeline.maxSensorsPerDevice,
  };
  const output = {
    window: emitWindow,
    reading: (r: Parameters<AlertService['onReading']>[0]) => {
      alerts.onReading(r);
      live.onReading(r);
    },
  };
  // Sparkplug B edge nodes (docs/sparkplug.md): the host state machine feeds the same ingest as JSON devices.
  const sp = config.sparkplug;
  const sparkplug = new SparkplugService({
    settings: { reorderTimeoutMs: sp.reorderTimeout, rebirthBackoffMs: sp.rebirthBackoff, rebirthBackoffMaxMs: sp.rebirthBackoffMax },
    hostId: sp.hostId,
    registry: metrics.registry,
    maxPayloadBytes: config.mqtt.maxPayloadBytes,
    now,
    stale: (device) => {
      alerts.staleNow(device, now());
      live.markOffline(device);
    },
    log: new RateLimitedLog(log.child({ part: 'sparkplug' })),
  });
  const pipeline = orClose(() => state.restore({ pipeline: (snap) => new Pipeline(settings, output, snap), alerts, sparkplug }));

  const ingest = new Ingest({ maxPayloadBytes: config.mqtt.maxPayloadBytes }, pipeline, metrics, new RateLimitedLog(log.child({ part: 'ingest' })), sparkplug);
  const processRecord = (r: IngestRecord) => {
    try {
      ingest.handle(r.topic, r.payload, r.receivedAt);
    } catch (err) {
      // A bug in one stage must not take the broker down; the message is counted as rejected.
      metrics.messagesRejected.inc({ reason: 'internal_error' });
      log.error({ err, topic: r.topic }, 'ingest failed');
    }
  };
  // Replays the ingest log after the restored checkpoint (after a crash), before any socket opens.
  orClose(() =>
    state.recover({
      process: processRecord,
      tick: (t) => {
        pipeline.tick(t);
        sparkplug.tick(t);
      },
      // Incremental (docs/durability.md): the devices changed since the last checkpoint, pipeline and alerts alike
      // captured in steps, as rows; the Sparkplug host (one entry per edge node) whole.
      capture: () => {
        const p = pipeline.beginDelta();
        const a = alerts.beginDelta();
        const s = sparkplug.snapshot();
        return {
          step: () => p.step(4) && a.step(16),
          finish: () => ({
            pipelineHead: pipeline.deltaHead(),
            pipelineRows: p.finish(),
            pipelineFull: p.full,
            alertRows: a.finish(),
            alertsFull: a.full,
            sparkplug: s,
          }),
          abort: () => {
            p.abort();
            a.abort();
          },
        };
      },
      commitEmitted: () => outbox.flush(),
    }),
  );
  await broker.started();
  alertPublisher.attach(broker);
  sparkplug.attach(broker);

  const health = (): HealthReport => {
    const o = outbox.status();
    return {
      status: o.influxUp && movedAside.length === 0 ? 'ok' : 'degraded',
      gatewayId: config.gatewayId,
      uptimeSeconds: Math.max(0, Math.round((now() - startedAt) / 1000)), // the clock may have been set back
      broker: { listening, clients: broker.connectedClients },
      ...influxAndOutboxHealth(config, o),
      pipeline: pipeline.stats(),
      alerts: { firing: alerts.firing().length, rules: alerts.status() },
      devices: { registered: devices.registry.size, file: config.auth.devicesFile, anonymous: config.auth.anonymous, errors: devices.fileErrors() },
      sparkplug: sparkplug.status(),
      storage: {
        movedAside: movedAside.map((m) => ({ database: m.database, reason: m.reason, movedTo: m.movedTo, detail: m.detail, at: new Date(m.at).toISOString() })),
      },
    };
  };
  const adminRejected = (reason: AdminRejectReason) => metrics.adminRejected.inc({ reason });
  /** Messages rejected since the start, by reason (the counter's labels): the operator page's health panel. */
  const rejectedByReason = async (m: Metrics): Promise<Record<string, number>> =>
    Object.fromEntries((await m.messagesRejected.get()).values.map((v) => [String(v.labels['reason'] ?? 'unknown'), v.value]));
  // Built by start() once MQTT listens: the admin app is not on the way to the first CONNACK.
  const buildAdminApp = async (): Promise<FastifyInstance> => {
    const [
      { buildAdmin },
      { thresholdsApi },
      { operatorPage },
      { rulesHistoryApi },
      { alertsViewApi },
      { rulesDryRunApi },
      { RULES_VERSIONS_KEPT, RulesHistory },
    ] = await adminModules;
    return buildAdmin(
      {
        log,
        registry: metrics.registry,
        health,
        bindHost: config.http.host,
        allowedHosts: config.http.allowedHosts,
        maxBodyBytes: config.http.maxBodyBytes,
        onRejected: adminRejected,
      },
      [
        rulesDryRunApi(live, now, adminRejected),
        thresholdsApi(alerts),
        alertsViewApi({
          alerts,
          history: alertHistory,
          silencer,
          now,
          gatewayId: config.gatewayId,
          influx: {
            url: config.influx.url,
            database: config.influx.database,
            username: config.influx.username,
            password: config.influx.password,
            timeoutMs: config.influx.timeout,
          },
          rejected: adminRejected,
        }),
        // The last versions of the rules file, in the data folder, to go back to (docs/operator-page.md).
        rulesHistoryApi(
          alerts,
          new RulesHistory({ dir: join(config.buffer.dir, 'rules-history'), keep: RULES_VERSIONS_KEPT, now, current: () => alerts.fileText(), log }),
          adminRejected,
        ),
        operatorPage({
          live,
          alerts,
          gatewayId: config.gatewayId,
          token: config.http.token,
          ...(config.http.grafanaUrl ? { grafanaUrl: config.http.grafanaUrl } : {}),
          units: config.http.units,
          now,
          log,
          health: async () => ({ ...health(), rejected: await rejectedByReason(metrics) }),
        }),
        ...(deps.adminPlugins ?? []),
      ],
    );
  };
  let admin: FastifyInstance | undefined;

  // The gateway's own counters go to InfluxDB through the outbox, next to the data (docs/wire-contract.md).
  const stats = new StatsReporter({
    metrics,
    outbox,
    gatewayId: config.gatewayId,
    intervalMs: config.pipeline.interval,
    log,
    timers: { ...systemTimers, now },
  });
  let listening = false;
  let ticker: NodeJS.Timeout | undefined;
  const ports = { mqtt: 0, ws: undefined as number | undefined, tls: undefined as number | undefined, http: 0 };
  let stopped = false;

  return {
    config,
    metrics,
    outbox,
    alerts,
    broker,
    get admin(): FastifyInstance {
      if (admin === undefined) throw new Error('the admin app is built by start()');
      return admin;
    },
    devices,
    ports,
    async start() {
      outbox.start();
      stats.start();
      const bound = await broker.listen();
      listening = true;
      ports.mqtt = bound.mqtt;
      ports.ws = bound.ws;
      ports.tls = bound.tls;
      admin = await buildAdminApp();
      await admin.listen({ host: config.http.host, port: config.http.port });
      const address = admin.server.address();
      ports.http = typeof address === 'object' && address !== null ? address.port : config.http.port;
      log.info({ port: ports.http, host: config.http.host }, 'admin HTTP listening');
      state.start();
      ticker = setInterval(() => {
        const t = now();
        pipeline.tick(state.tickTime(t));
        alerts.tick(t);
        sparkplug.tick(t);
      }, config.pipeline.tick);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (ticker) clearInterval(ticker);
      await sparkplug.offline();
      // Stop accepting first, so nothing reaches the pipeline after its state is saved.
      await broker.close();
      // The final checkpoint: logs what waits, commits emitted windows to the outbox, then saves the state.
      state.stop();
      await stats.stop();
      alerts.close();
      devices.close();
      await outbox.close();
      state.close();
      dataDir.release(); // after the last write to the folder
      await admin?.close();
    },
  };
}

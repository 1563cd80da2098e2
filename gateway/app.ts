import { join } from 'node:path';
import { AlertHistory } from './alerts/alert-history.js';
import { AlertSilencer } from './alerts/silences.js';
import { AlertService } from './alerts/service.js';
import type { AlertEvent } from './alerts/types.js';
import type { BrokerFront, IngestGate } from './broker/front.js';
import { composeBase } from './compose/base.js';
import { composeGateway } from './compose/lifecycle.js';
import { composeOutputs, pipelineSettings } from './compose/outputs.js';
import type { GatewayConfig } from './config/schema.js';
import { Ingest } from './ingest.js';
import { RateLimitedLog } from './log.js';
import { Pipeline } from './pipeline/pipeline.js';
import type { WindowPoint } from './pipeline/types.js';
import type { IngestRecord } from './state/ingest-log.js';
import { DurableState } from './state/durable-state.js';
import { composeSparkplug } from './compose/sparkplug.js';
import { LazySparkplugCodec } from './sparkplug/lazy-codec.js';
import type { Gateway, GatewayDeps } from './gateway.js';

/**
 * Lines of the windows sealed by a checkpoint committed to the outbox at a time, in the checkpoint's own turns:
 * ~0.34 ms a piece where a whole 5,000-line batch takes ~6 ms (BENCHMARKS.md, "Checkpoint turns at 100k sensors").
 */
const SEALED_PIECE_LINES = 500;

export type { Gateway, GatewayDeps } from './gateway.js';

/**
 * Wires the parts of the gateway: broker -> ingest -> pipeline -> (alerts, outbox) -> InfluxDB, plus the admin
 * app. Locks the data folder (DataDirLockedError when another process holds it), opens the SQLite files and
 * restores the last checkpoint, but opens no socket until start(), which listens for MQTT first and then builds
 * and starts the admin app. The lock is held until stop() returns (or the process ends, also when the build
 * fails). What a cluster node shares with it (data folder, metrics, broker edge, outbox, alert publishing, live
 * view, /health, admin app, start/stop sequence) is composed in compose/; what is its own is here: the ingest log
 * and checkpoints (state.db), the pipeline, Sparkplug, the alert silencer and history.
 */
export async function buildGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  // A cluster node (docs/cluster.md) is composed apart; with cluster.enabled false none of it is loaded.
  if (config.cluster.enabled) return (await import('./cluster/gateway.js')).buildClusterGateway(config, deps);
  const base = composeBase(config, deps);
  const { log, now, metrics } = base;
  // Start-up to the first CONNACK (BENCHMARKS.md, start-up): the broker thread loads aedes on its own thread while
  // this one opens the SQLite files and restores the checkpoint below; it opens no socket before start(), and the
  // gate takes no publish before then. fastify and the admin routes are not needed before the first CONNACK
  // either: start() loads their modules as it asks the broker to listen (beforeListen below; loaded any earlier,
  // their evaluation could hold up that request) and builds the admin app once MQTT listens; aedes is loaded on
  // this thread only when the broker runs here.
  const loadAdminModules = () =>
    Promise.all([
      import('./compose/admin.js'),
      import('./admin/thresholds-api.js'),
      import('./admin/rules-history-api.js'),
      import('./admin/alerts-view-api.js'),
      import('./admin/rules-dry-run.js'),
      import('./alerts/rules-history.js'),
    ]);
  let adminModules: ReturnType<typeof loadAdminModules> | undefined;
  // `state` is created below; the gate is first called after start(). A spBv1.0 publish that comes before the
  // Sparkplug codec has loaded is held, with every publish after it, until it has (sparkplug/lazy-codec.ts).
  const codec = new LazySparkplugCodec();
  const gate: IngestGate = codec.hold((topic, payload, qos, receivedAt, done) => state.accept(topic, payload, qos, receivedAt, done));
  const broker: BrokerFront = await base.edge.createBroker(gate);
  // The broker (thread) already runs: a build that fails from here on closes it, or it would keep the process alive.
  const orClose = <T>(f: () => T): T => {
    try {
      return f();
    } catch (err) {
      void broker.close().catch(() => undefined);
      throw err;
    }
  };
  const out = orClose(() => composeOutputs(base));
  const { outbox, alertPublisher, live } = out;
  // Checkpoints + ingest log (state.db): QoS 1 publishes are on disk before PUBACK (docs/durability.md).
  const state = orClose(() => new DurableState(config, { log, metrics, timers: base.timers, onMovedAside: base.onMovedAside }));

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
  const alerts = new AlertService(out.alertServiceDeps(publishAlerts, (events) => (silencer.noteRetained(events), alertPublisher.retain(events))));
  alerts.start();

  const output = {
    window: (w: WindowPoint) => {
      state.touch();
      out.emitWindow(w);
    },
    reading: (r: Parameters<AlertService['onReading']>[0]) => {
      alerts.onReading(r);
      live.onReading(r);
    },
  };
  // Sparkplug B edge nodes (docs/sparkplug.md): the host state machine feeds the same ingest as JSON devices.
  const sparkplug = composeSparkplug(
    base,
    (device) => {
      alerts.staleNow(device, now());
      live.markOffline(device);
    },
    codec.get,
  );
  const settings = pipelineSettings(config);
  const pipeline = orClose(() => state.restore({ pipeline: (snap, fromRows) => new Pipeline(settings, output, snap, fromRows), alerts, sparkplug }));

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
  if (state.replayPending()) {
    try {
      await codec.load(); // the log may hold spBv1.0 publishes
    } catch (err) {
      void broker.close().catch(() => undefined);
      throw err;
    }
  }
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
      sealEmitted: () => {
        outbox.seal();
        return () => outbox.commitSealed(SEALED_PIECE_LINES);
      },
    }),
  );
  await broker.started();
  alertPublisher.attach(broker);
  sparkplug.attach(broker);

  return composeGateway(base, out, {
    broker,
    alerts,
    health: () => ({
      healthy: true,
      sections: { pipeline: pipeline.stats(), alerts: { firing: alerts.firing().length, rules: alerts.status() }, sparkplug: sparkplug.status() },
    }),
    // Built by start() once MQTT listens: the admin app is not on the way to the first CONNACK.
    // The broker's listen request goes out right after this, before these modules are evaluated.
    beforeListen: () => {
      adminModules = loadAdminModules();
      // Both awaited by buildAdmin; a failure before then must not be an unhandled rejection.
      adminModules.catch(() => undefined);
      codec.load().catch(() => undefined);
    },
    buildAdmin: async (health) => {
      // Before /health answers and the first tick (main.ts handles SIGTERM only once start() returned).
      await codec.load();
      const [
        { buildAdminApp, adminRejected, operatorPagePlugin, pageSettings },
        { thresholdsApi },
        { rulesHistoryApi },
        { alertsViewApi },
        { rulesDryRunApi },
        { RULES_VERSIONS_KEPT, RulesHistory },
      ] = await (adminModules ?? loadAdminModules());
      const rejected = adminRejected(metrics);
      const { influx } = config;
      return buildAdminApp(base, health, [
        rulesDryRunApi(live, now, rejected),
        thresholdsApi(alerts),
        alertsViewApi({
          alerts,
          history: alertHistory,
          silencer,
          now,
          gatewayId: config.gatewayId,
          influx: { url: influx.url, database: influx.database, username: influx.username, password: influx.password, timeoutMs: influx.timeout },
          rejected,
        }),
        // The last versions of the rules file, in the data folder, to go back to (docs/operator-page.md).
        rulesHistoryApi(
          alerts,
          new RulesHistory({ dir: join(config.buffer.dir, 'rules-history'), keep: RULES_VERSIONS_KEPT, now, current: () => alerts.fileText(), log }),
          rejected,
        ),
        operatorPagePlugin(base, { live, alerts }, pageSettings(base, health)),
      ]);
    },
    announce: { msg: 'admin HTTP listening' },
    tick: (t) => {
      pipeline.tick(state.tickTime(t));
      alerts.tick(t);
      sparkplug.tick(t);
    },
    afterListen: () => state.start(),
    beforeBrokerClose: () => sparkplug.offline(),
    // The final checkpoint: logs what waits, commits emitted windows to the outbox, then saves the state.
    afterBrokerClose: () => {
      state.stop();
    },
    afterOutboxClose: () => state.close(),
  });
}

import type { Gateway, GatewayDeps } from '../gateway.js';
import { thresholdsApi } from '../admin/thresholds-api.js';
import { AlertService } from '../alerts/service.js';
import type { BrokerFront } from '../broker/front.js';
import { buildAdminApp, operatorPagePlugin, pageSettings } from '../compose/admin.js';
import { composeBase } from '../compose/base.js';
import { composeGateway } from '../compose/lifecycle.js';
import { composeOutputs, pipelineSettings } from '../compose/outputs.js';
import { composeSparkplug } from '../compose/sparkplug.js';
import { LazySparkplugCodec } from '../sparkplug/lazy-codec.js';
import type { GatewayConfig } from '../config/schema.js';
import { ClusterNode } from './node.js';

/**
 * buildGateway for cluster.enabled (docs/cluster.md): the same broker, outbox, admin and alert publishing as the
 * single gateway (app.ts; both composed from compose/), but the broker's gate puts ingest publishes on the JetStream
 * stream and the pipeline runs per partition, in the workers of the partitions this gateway holds. No ingest log or
 * state.db: the stream is the log, the KV bucket holds the checkpoints.
 */
export async function buildClusterGateway(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
  const base = composeBase(config, deps);
  const { log, metrics } = base;
  const out = composeOutputs(base);
  const { outbox, alertPublisher, live } = out;
  const alertDeps = out.alertServiceDeps(
    (e) => alertPublisher.publish(e),
    (e) => alertPublisher.retain(e),
  );
  // The rules API's service (reads and writes the rules file); each partition runs a service of its own.
  const alerts = new AlertService({ ...alertDeps, publish: () => {} });
  alerts.start();
  // Sparkplug B (docs/cluster.md, "Sparkplug B"): decoding, counters, rebirth requests and the STATE of the cluster's
  // one primary host here; the edge nodes' sessions live in the partitions' hosts (partition-state.ts).
  // A cluster node loads the payload codec during its build, as it always has (start-up is tuned for the single
  // gateway, whose root loads it once MQTT listens: app.ts).
  const codec = new LazySparkplugCodec();
  await codec.load();
  const sparkplug = composeSparkplug(base, (device) => live.markOffline(device), codec.get);
  const node = await ClusterNode.connect(config, {
    log,
    metrics,
    timers: base.timers,
    commitEmitted: () => outbox.flush(),
    parts: {
      settings: pipelineSettings(config),
      output: { window: out.emitWindow, reading: (r) => live.onReading(r) },
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
  const broker: BrokerFront = await base.edge.createBroker(gate, node.relay.fromClients);
  await broker.started();
  await node.relay.attach(broker);
  alertPublisher.attach(node.relay.publisher);
  // Rebirth requests reach the edge node whichever gateway it is connected to; STATE (retained) every gateway.
  sparkplug.attach(node.relay.publisher);

  let checkpoints: NodeJS.Timeout | undefined;
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
  return composeGateway(base, out, {
    broker: front,
    alerts,
    health: () => {
      const cluster = node.status();
      return { healthy: cluster.nats.connected, sections: { alerts: { rules: alerts.status() }, sparkplug: sparkplug.status(), cluster } };
    },
    buildAdmin: (health) => buildAdminApp(base, health, [thresholdsApi(alerts), operatorPagePlugin(base, { live, alerts }, pageSettings(base, health))]),
    announce: { msg: 'admin HTTP listening (cluster node)', fields: { nodeId: config.cluster.nodeId } },
    tick: (t) => node.tick(t),
    beforeListen: () => node.start(),
    afterListen: () => {
      checkpoints = setInterval(() => void node.checkpoint(), config.durability.checkpointInterval);
    },
    beforeBrokerClose: async () => {
      if (checkpoints) clearInterval(checkpoints);
      // The cluster's primary host stays online on the other gateways: offline only on this one's broker, whose
      // edge nodes are about to be disconnected (docs/cluster.md, "Sparkplug B").
      await sparkplug.offline(broker);
    },
    afterBrokerClose: () => node.stop(),
    afterOutboxClose: () => node.close(),
  });
}

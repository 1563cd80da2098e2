import { LiveView } from '../admin/live/live-view.js';
import { AlertPublisher } from '../alerts/publisher.js';
import type { AlertServiceDeps } from '../alerts/service.js';
import type { AlertEvent } from '../alerts/types.js';
import type { GatewayConfig } from '../config/schema.js';
import { createOutbox } from '../outbox/create.js';
import type { Outbox } from '../outbox/outbox.js';
import type { PipelineSettings, WindowPoint } from '../pipeline/types.js';
import { windowToPoint } from '../sink/point.js';
import { StatsReporter } from '../stats/reporter.js';
import type { GatewayBase } from './base.js';

/**
 * Where the gateway's results go, the same for a single gateway (app.ts) and a cluster node (cluster/gateway.ts):
 * the outbox (window points, alert points, the gateway's own stats) on its way to InfluxDB, alert states on MQTT
 * (retained) and the operator page's live view. Opens outbox.db (moving a damaged one aside: base.onMovedAside)
 * but sends nothing until outbox.start().
 */
export interface GatewayOutputs {
  readonly outbox: Outbox;
  /** Alert events -> `alerts` points (outbox) + retained MQTT; MQTT waits for attach(broker). */
  readonly alertPublisher: AlertPublisher;
  /** The operator page's live view: last value, rate and window means per sensor (O(1) per reading). */
  readonly live: LiveView;
  /** A window the pipeline emitted: counted, shown live, and appended to the outbox with its device's tags. */
  readonly emitWindow: (w: WindowPoint) => void;
  /** The gateway's own counters, to InfluxDB through the outbox next to the data (docs/wire-contract.md). */
  readonly stats: StatsReporter;
  /** An AlertService's deps (alerts.rulesFile, its log, metrics, clock) around the root's publish and retain. */
  readonly alertServiceDeps: (publish: (events: readonly AlertEvent[]) => void, retain: (events: readonly AlertEvent[]) => void) => AlertServiceDeps;
}

export function composeOutputs(base: GatewayBase): GatewayOutputs {
  const { config, log, metrics, now, devices } = base;
  const { outbox } = createOutbox(config, { metrics, log, onMovedAside: base.onMovedAside });
  const alertPublisher = new AlertPublisher({ outbox, gatewayId: config.gatewayId, log });
  const live = new LiveView(now());
  const emitWindow = (w: WindowPoint) => {
    live.onWindow(w);
    metrics.windowsEmitted.inc();
    if (w.revision > 0) metrics.windowsCorrected.inc();
    const point = windowToPoint(w, config.influx.measurement, config.gatewayId);
    // Registry tags (site, room, ...) go on the device's points; the schema keeps them off gateway/device/sensor.
    const extra = devices.tagsOf(w.device);
    outbox.append([extra ? { ...point, tags: { ...extra, ...point.tags } } : point]);
  };
  const stats = new StatsReporter({ metrics, outbox, gatewayId: config.gatewayId, intervalMs: config.pipeline.interval, log, timers: base.timers });
  return {
    outbox,
    alertPublisher,
    live,
    emitWindow,
    stats,
    alertServiceDeps: (publish, retain) => ({ rulesFile: config.alerts.rulesFile, log: log.child({ part: 'alerts' }), metrics, now, publish, retain }),
  };
}

/** The pipeline's settings (pipeline.*), for the single gateway's pipeline and each cluster partition's. */
export function pipelineSettings(config: GatewayConfig): PipelineSettings {
  return {
    intervalMs: config.pipeline.interval,
    allowedLatenessMs: config.pipeline.allowedLateness,
    correctionHorizonMs: config.pipeline.correctionHorizon,
    dedupHorizonMs: config.pipeline.dedupHorizon,
    maxSensorsPerDevice: config.pipeline.maxSensorsPerDevice,
  };
}

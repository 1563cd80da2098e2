import { join } from 'node:path';
import { Registry } from 'prom-client';
import { AlertService } from '../../gateway/alerts/service.js';
import type { BrokerFront, GatewayPublish } from '../../gateway/broker/front.js';
import { PartitionStates } from '../../gateway/cluster/partition-state.js';
import { createLogger, RateLimitedLog, type Logger } from '../../gateway/log.js';
import type { Metrics } from '../../gateway/metrics.js';
import type { PipelineOutput } from '../../gateway/pipeline/pipeline.js';
import * as codec from '../../gateway/sparkplug/codec.js';
import { SparkplugService } from '../../gateway/sparkplug/service.js';

/**
 * A Sparkplug host service for tests that build partition states by hand (its metrics in a registry of its own),
 * attached to a publisher that records what it sends (rebirth requests).
 */
export function testSparkplugService(settings = { reorderTimeoutMs: 1000, rebirthBackoffMs: 5000, rebirthBackoffMaxMs: 60_000 }): {
  service: SparkplugService;
  sent: GatewayPublish[];
} {
  const sent: GatewayPublish[] = [];
  const service = new SparkplugService({
    settings,
    registry: new Registry(),
    maxPayloadBytes: 65536,
    now: () => 0,
    stale: () => {},
    log: new RateLimitedLog(createLogger('silent')),
    codec: () => codec,
  });
  const publisher: Pick<BrokerFront, 'publish'> = { publish: (p, done) => (sent.push(p), done()) };
  service.attach(publisher);
  return { service, sent };
}

/**
 * Partition states as a cluster gateway builds them (1 s windows, no lateness), with the rules file `{dir}/rules.yaml`,
 * alert services on `now`, and a Sparkplug service of their own (`sparkplug.sent`: its rebirth requests).
 */
export function testPartitionStates(opts: {
  dir: string;
  metrics: Metrics;
  log: Logger;
  output: Required<PipelineOutput>;
  now: () => number;
  offline?: (device: string) => void;
}) {
  const { dir, metrics, log, now } = opts;
  const sparkplug = testSparkplugService();
  const states = new PartitionStates({
    settings: { intervalMs: 1000, allowedLatenessMs: 0, correctionHorizonMs: 30_000, dedupHorizonMs: 60_000 },
    output: opts.output,
    newAlerts: () => {
      const s = new AlertService({ rulesFile: join(dir, 'rules.yaml'), log, metrics, now, publish: () => {} });
      s.start();
      return s;
    },
    metrics,
    rejectLog: new RateLimitedLog(log),
    log,
    maxPayloadBytes: 65536,
    sparkplug: sparkplug.service,
    offline: opts.offline ?? (() => {}),
  });
  return { states, sparkplug };
}

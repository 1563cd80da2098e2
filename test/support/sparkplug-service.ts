import { Registry } from 'prom-client';
import type { BrokerFront, GatewayPublish } from '../../gateway/broker/front.js';
import { createLogger, RateLimitedLog } from '../../gateway/log.js';
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
  });
  const publisher: Pick<BrokerFront, 'publish'> = { publish: (p, done) => (sent.push(p), done()) };
  service.attach(publisher);
  return { service, sent };
}

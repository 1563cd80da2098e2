import { RateLimitedLog } from '../log.js';
import type { SparkplugCodec } from '../sparkplug/lazy-codec.js';
import { SparkplugService } from '../sparkplug/service.js';
import type { GatewayBase } from './base.js';

/**
 * The Sparkplug B host application (docs/sparkplug.md) from sparkplug.* and mqtt.maxPayloadBytes, the same for a
 * single gateway (app.ts: one host) and a cluster node (cluster/gateway.ts: a host per partition, newHost). `stale`:
 * what an NDEATH or DDEATH does to a device of the gateway's own host. `codec`: the payload codec, loaded by the root
 * (sparkplug/lazy-codec.ts) before the first spBv1.0 publish reaches the service.
 */
export function composeSparkplug(base: GatewayBase, stale: (device: string) => void, codec: () => SparkplugCodec): SparkplugService {
  const { config, log, metrics, now } = base;
  const sp = config.sparkplug;
  return new SparkplugService({
    settings: { reorderTimeoutMs: sp.reorderTimeout, rebirthBackoffMs: sp.rebirthBackoff, rebirthBackoffMaxMs: sp.rebirthBackoffMax },
    hostId: sp.hostId,
    registry: metrics.registry,
    maxPayloadBytes: config.mqtt.maxPayloadBytes,
    now,
    stale,
    log: new RateLimitedLog(log.child({ part: 'sparkplug' })),
    codec,
  });
}

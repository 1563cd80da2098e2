import { createRequire } from 'node:module';

/**
 * The file that `require(id)` inside mqtt-packet resolves to, as aedes loads it (aedes' own mqtt-packet, and what
 * that one finds from its folder); undefined where any of it does not resolve. For the modules that adjust what
 * mqtt-packet uses before aedes is loaded (quiet-debug.ts, packet-reads.ts). Resolving loads nothing.
 */
export function resolveInMqttPacket(id: string): string | undefined {
  try {
    const mqttPacket = createRequire(import.meta.resolve('aedes')).resolve('mqtt-packet');
    return createRequire(mqttPacket).resolve(id);
  } catch {
    return undefined;
  }
}

import { createRequire } from 'node:module';

/** The file of aedes' own mqtt-packet (what aedes' `require('mqtt-packet')` loads); undefined where it does not resolve. */
export function mqttPacketFile(): string | undefined {
  try {
    return createRequire(import.meta.resolve('aedes')).resolve('mqtt-packet');
  } catch {
    return undefined;
  }
}

/**
 * The file that `require(id)` inside mqtt-packet resolves to, as aedes loads it (aedes' own mqtt-packet, and what
 * that one finds from its folder); undefined where any of it does not resolve. For the modules that adjust what
 * mqtt-packet uses before aedes is loaded (quiet-debug.ts, packet-reads.ts, packet-writes.ts). Resolving loads nothing.
 */
export function resolveInMqttPacket(id: string): string | undefined {
  const mqttPacket = mqttPacketFile();
  if (mqttPacket === undefined) return undefined;
  try {
    return createRequire(mqttPacket).resolve(id);
  } catch {
    return undefined;
  }
}

/**
 * The ingest topics of the wire contract:
 *   devices/{device}/telemetry          JSON object or array of objects with `readings`
 *   devices/{device}/sensors/{sensor}   a bare number or {"ts"?, "value"}
 * Any other topic is not ingest: the broker routes it like any MQTT broker would.
 */
export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export type IngestTopic =
  | { readonly kind: 'telemetry'; readonly device: string }
  | { readonly kind: 'sensor'; readonly device: string; readonly sensor: string }
  | { readonly kind: 'invalid'; readonly device: string; readonly detail: string };

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** Returns undefined for topics outside the ingest contract. Called once per publish: no allocation beyond split. */
export function parseIngestTopic(topic: string): IngestTopic | undefined {
  if (!topic.startsWith('devices/')) return undefined;
  const parts = topic.split('/');
  const device = parts[1] ?? '';
  if (parts.length === 3 && parts[2] === 'telemetry') {
    if (!isValidId(device)) return { kind: 'invalid', device, detail: `device id ${JSON.stringify(device)} does not match ${ID_PATTERN.source}` };
    return { kind: 'telemetry', device };
  }
  if (parts.length === 4 && parts[2] === 'sensors') {
    const sensor = parts[3]!;
    if (!isValidId(device)) return { kind: 'invalid', device, detail: `device id ${JSON.stringify(device)} does not match ${ID_PATTERN.source}` };
    if (!isValidId(sensor)) return { kind: 'invalid', device, detail: `sensor id ${JSON.stringify(sensor)} does not match ${ID_PATTERN.source}` };
    return { kind: 'sensor', device, sensor };
  }
  return undefined;
}

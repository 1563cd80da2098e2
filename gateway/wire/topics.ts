import { isSparkplugIngestTopic } from '../sparkplug/topic.js';

/**
 * The topics and ids of the wire contract (docs/wire-contract.md), read by the broker, auth, ingest, state,
 * alerts and the device simulator:
 *   devices/{device}/telemetry              JSON object or array of objects with `readings` (ingest)
 *   devices/{device}/sensors/{sensor}       a bare number or {"ts"?, "value"} (ingest)
 *   alerts/{device}/{sensor}/{rule}         an alert's state, retained, published by the gateway only
 * and the Sparkplug B topics `spBv1.0/{group}/{N|D}{BIRTH|DATA|DEATH}/{edge}[/{device}]` (ingest, sparkplug/topic.ts,
 * docs/sparkplug.md). Any other topic is not ingest: the broker routes it like any MQTT broker would.
 */
export const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** The tree devices publish in. */
export const DEVICES_ROOT = 'devices';
/** The tree the gateway publishes alert states in. */
export const ALERTS_ROOT = 'alerts';

export const telemetryTopic = (device: string): string => `${DEVICES_ROOT}/${device}/telemetry`;
export const alertTopic = (device: string, sensor: string, rule: string): string => `${ALERTS_ROOT}/${device}/${sensor}/${rule}`;

export type IngestTopic =
  | { readonly kind: 'telemetry'; readonly device: string }
  | { readonly kind: 'sensor'; readonly device: string; readonly sensor: string }
  | { readonly kind: 'invalid'; readonly device: string; readonly detail: string };

/** Same as ID_PATTERN.test(id), without the regex engine: called for every publish and every sensor id. */
export function isValidId(id: string): boolean {
  const n = id.length;
  if (n < 1 || n > 64) return false;
  for (let i = 0; i < n; i++) {
    const c = id.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 46 || c === 45)) return false;
  }
  return true;
}

const PREFIX = `${DEVICES_ROOT}/`;
const invalidId = (device: string, what: string, id: string): IngestTopic => ({
  kind: 'invalid',
  device,
  detail: `${what} id ${JSON.stringify(id)} does not match ${ID_PATTERN.source}`,
});

/**
 * Returns undefined for topics outside the ingest contract. Called once per publish: finds the separators with
 * indexOf instead of split, so the only allocations are the id strings and the result.
 */
export function parseIngestTopic(topic: string): IngestTopic | undefined {
  if (!topic.startsWith(PREFIX)) return undefined;
  const a = topic.indexOf('/', PREFIX.length);
  if (a < 0) return undefined;
  const b = topic.indexOf('/', a + 1);
  if (b < 0) {
    // devices/{device}/telemetry
    if (topic.length - a - 1 !== 9 || !topic.endsWith('telemetry')) return undefined;
    const device = topic.slice(PREFIX.length, a);
    return isValidId(device) ? { kind: 'telemetry', device } : invalidId(device, 'device', device);
  }
  // devices/{device}/sensors/{sensor}, with no further level
  if (b - a - 1 !== 7 || !topic.startsWith('sensors', a + 1) || topic.indexOf('/', b + 1) >= 0) return undefined;
  const device = topic.slice(PREFIX.length, a);
  const sensor = topic.slice(b + 1);
  if (!isValidId(device)) return invalidId(device, 'device', device);
  if (!isValidId(sensor)) return invalidId(device, 'sensor', sensor);
  return { kind: 'sensor', device, sensor };
}

/**
 * parseIngestTopic(topic) !== undefined or a Sparkplug B message (sparkplug/topic.ts), without allocating: the broker thread asks it for every publish to
 * decide what the gateway must see (ids are checked by the gateway, which counts bad ones as rejected).
 */
export function isIngestTopic(topic: string): boolean {
  if (!topic.startsWith(PREFIX)) return isSparkplugIngestTopic(topic);
  const a = topic.indexOf('/', PREFIX.length);
  if (a < 0) return false;
  const b = topic.indexOf('/', a + 1);
  if (b < 0) return topic.length - a - 1 === 9 && topic.endsWith('telemetry');
  return b - a - 1 === 7 && topic.startsWith('sensors', a + 1) && topic.indexOf('/', b + 1) < 0;
}

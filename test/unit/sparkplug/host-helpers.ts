import { decodePayload, encodePayload, type MetricInit, type SpPayload } from '../../../gateway/sparkplug/codec.js';
import { DataType } from '../../../gateway/sparkplug/datatypes.js';
import { SparkplugHost, type HostEvent, type HostSettings, type RebirthReason } from '../../../gateway/sparkplug/host.js';

export const SETTINGS: HostSettings = { reorderTimeoutMs: 1000, rebirthBackoffMs: 5000, rebirthBackoffMaxMs: 20_000 };

/** Records what the host decides. */
export function recordingHost(settings: HostSettings = SETTINGS) {
  const data: { device: string; names: string[]; payloadTs: number | undefined }[] = [];
  const rebirths: { node: string; reason: RebirthReason }[] = [];
  const stale: string[] = [];
  const events: HostEvent[] = [];
  const host = new SparkplugHost(settings, {
    metrics: (device, metrics, payloadTs) => data.push({ device, names: metrics.map((m) => m.name), payloadTs }),
    rebirth: (group, edge, reason) => rebirths.push({ node: `${group}/${edge}`, reason }),
    stale: (device) => stale.push(device),
    event: (e) => events.push(e),
  });
  return { host, data, rebirths, stale, events };
}

/** A payload through the real codec, as the host sees it. */
export function payload(seq: number | undefined, metrics: MetricInit[], timestamp?: number): SpPayload {
  const d = decodePayload(encodePayload({ ...(seq !== undefined ? { seq } : {}), ...(timestamp !== undefined ? { timestamp } : {}), metrics }));
  if (!d.ok) throw new Error(d.detail);
  return d.payload;
}

export const bdSeq = (n: number): MetricInit => ({ name: 'bdSeq', datatype: DataType.Int64, value: { case: 'longValue', value: BigInt(n) } });
export const rebirthMetric: MetricInit = { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: { case: 'booleanValue', value: false } };
export const dbl = (name: string | undefined, alias: number | undefined, v: number): MetricInit => ({
  ...(name !== undefined ? { name, datatype: DataType.Double } : {}),
  ...(alias !== undefined ? { alias: BigInt(alias) } : {}),
  value: { case: 'doubleValue', value: v },
});

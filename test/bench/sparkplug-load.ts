/**
 * Sparkplug B packets for the load generator (loadgen.ts, `sparkplug` option): each generator device is an edge
 * node `{device}` of group `bench` with one device `d` and SPARKPLUG_METRICS Double metrics (aliases 1..n). Its
 * NBIRTH and DBIRTH go out first, then DDATA by alias from pre-encoded templates with the payload timestamp and
 * `seq` patched in place: the timestamp is a 6-byte varint for every ms time from 2^35 to 2^42 (1971-2109), and
 * `seq`, the payload's last field, is one byte below 128 and two from 128, hence two templates per device.
 */
import { encodePayload, type MetricInit } from '../../gateway/sparkplug/codec.js';
import { DataType } from '../../gateway/sparkplug/datatypes.js';
import { publishPacket, type PublishTemplate } from '../support/mqtt-wire.js';

export const SPARKPLUG_METRICS = 10;
export const SPARKPLUG_GROUP = 'bench';

export interface SparkplugDevice {
  /** NBIRTH + DBIRTH, QoS 0. */
  readonly births: Buffer;
  /** DDATA templates for seq < 128 and seq >= 128. */
  readonly short: PublishTemplate;
  readonly long: PublishTemplate;
}

const values = Array.from({ length: SPARKPLUG_METRICS }, (_, i) => 10 + i * 1.25);

function packet(topic: string, payload: Uint8Array, qos: 0 | 1): PublishTemplate {
  // publishPacket takes a string payload: latin1 keeps every byte as it is.
  return publishPacket(topic, Buffer.from(payload).toString('latin1'), qos, 'latin1');
}

export function sparkplugDevice(edge: string, qos: 0 | 1, t0: number): SparkplugDevice {
  const birth = (type: string, topic: string, seq: number, metrics: MetricInit[]) =>
    packet(`spBv1.0/${SPARKPLUG_GROUP}/${type}/${topic}`, encodePayload({ timestamp: t0, seq, metrics }), 0).bytes;
  const births = Buffer.concat([
    birth('NBIRTH', edge, 0, [
      { name: 'bdSeq', datatype: DataType.Int64, value: { case: 'longValue', value: 0n } },
      { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: { case: 'booleanValue', value: false } },
    ]),
    birth(
      'DBIRTH',
      `${edge}/d`,
      1,
      values.map((v, i) => ({ name: `m${i}`, alias: BigInt(i + 1), datatype: DataType.Double, value: { case: 'doubleValue', value: v } })),
    ),
  ]);
  const data = (seq: number) =>
    packet(
      `spBv1.0/${SPARKPLUG_GROUP}/DDATA/${edge}/d`,
      encodePayload({ timestamp: t0, seq, metrics: values.map((v, i) => ({ alias: BigInt(i + 1), value: { case: 'doubleValue', value: v } })) }),
      qos,
    );
  return { births, short: data(2), long: data(200) };
}

/** The k-th DDATA of a device (k from 0: seq k + 2, after its two births), at event time `ts`. */
export function sparkplugData(d: SparkplugDevice, k: number, ts: number): { bytes: Buffer; idAt: number } {
  const seq = (k + 2) & 255;
  const t = seq < 128 ? d.short : d.long;
  const bytes = Buffer.from(t.bytes);
  // Payload: 0x08 <timestamp varint, 6 bytes> ... 0x18 <seq varint>.
  let v = ts;
  for (let i = 0; i < 6; i++) {
    const low = v % 128;
    v = Math.floor(v / 128);
    bytes[t.payloadAt + 1 + i] = i < 5 ? low | 0x80 : low;
  }
  const end = bytes.length;
  if (seq < 128) bytes[end - 1] = seq;
  else {
    bytes[end - 2] = (seq & 0x7f) | 0x80;
    bytes[end - 1] = seq >> 7;
  }
  return { bytes, idAt: t.idAt };
}

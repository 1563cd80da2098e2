import { create, fromBinary, isFieldSet, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { scanPayload } from './fast-decode.js';
import { PayloadSchema, Payload_MetricSchema } from './proto/sparkplug_b_pb.js';
import type { SpMetric, SpPayload } from './payload.js';

/**
 * Sparkplug B payloads (Sparkplug 3.0 chapter 6.4) <-> the plain shapes the host works with. Decoding is the
 * edge where untrusted bytes become typed values: protobuf errors, a seq outside 0-255 and a uint64 timestamp or
 * alias beyond the safe integer range are reported here, nothing downstream sees a bigint.
 */
export type { SpMetric, SpPayload } from './payload.js';

export type Decoded = { readonly ok: true; readonly payload: SpPayload } | { readonly ok: false; readonly detail: string };

const MAX = BigInt(Number.MAX_SAFE_INTEGER);
const f = Payload_MetricSchema.field;

function toSafe(x: bigint): number {
  return x > MAX ? Number.NaN : Number(x);
}

/** Decodes a payload: the fast scanner when it can (fast-decode.ts), else protobuf-es. */
export function decodePayload(bytes: Uint8Array): Decoded {
  const fast = scanPayload(bytes);
  return fast !== undefined ? { ok: true, payload: fast } : decodePayloadFull(bytes);
}

/** The full decoder (protobuf-es + checks): the definition the fast scanner must agree with. Exported for tests. */
export function decodePayloadFull(bytes: Uint8Array): Decoded {
  let p;
  try {
    p = fromBinary(PayloadSchema, bytes);
  } catch (err) {
    return { ok: false, detail: `not a Sparkplug B payload: ${(err as Error).message.slice(0, 160)}` };
  }
  let seq: number | undefined;
  if (isFieldSet(p, PayloadSchema.field.seq)) {
    if (p.seq > 255n) return { ok: false, detail: `seq ${p.seq} is outside 0-255` };
    seq = Number(p.seq);
  }
  const metrics: SpMetric[] = [];
  for (const m of p.metrics) {
    let alias: number | undefined;
    if (isFieldSet(m, f.alias)) {
      alias = toSafe(m.alias);
      if (Number.isNaN(alias)) return { ok: false, detail: `alias ${m.alias} is beyond the safe integer range` };
    }
    metrics.push({
      name: isFieldSet(m, f.name) ? m.name : undefined,
      alias,
      timestamp: isFieldSet(m, f.timestamp) ? toSafe(m.timestamp) : undefined,
      datatype: isFieldSet(m, f.datatype) ? m.datatype : undefined,
      historical: m.isHistorical,
      transient: m.isTransient,
      isNull: m.isNull,
      value: m.value,
    });
  }
  return { ok: true, payload: { timestamp: isFieldSet(p, PayloadSchema.field.timestamp) ? toSafe(p.timestamp) : undefined, seq, metrics } };
}

/** What an edge node sends (tests, the simulator, the gateway's own NCMD). */
export type MetricInit = MessageInitShape<typeof Payload_MetricSchema>;
export interface PayloadInit {
  readonly timestamp?: number | bigint;
  readonly seq?: number;
  readonly metrics: readonly MetricInit[];
}

export function encodePayload(p: PayloadInit): Uint8Array {
  return toBinary(
    PayloadSchema,
    create(PayloadSchema, {
      ...(p.timestamp !== undefined ? { timestamp: BigInt(p.timestamp) } : {}),
      ...(p.seq !== undefined ? { seq: BigInt(p.seq) } : {}),
      metrics: p.metrics.map((m) => create(Payload_MetricSchema, m)),
    }),
  );
}

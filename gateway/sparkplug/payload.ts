import type { Payload_Metric } from './proto/sparkplug_b_pb.js';

/** The plain shapes of a decoded Sparkplug B payload (Sparkplug 3.0 chapter 6.4) that the host works with (codec.ts decodes). */
export interface SpMetric {
  readonly name: string | undefined;
  readonly alias: number | undefined;
  /** Epoch ms; NaN when the device sent one beyond the safe integer range (refused per metric as bad_timestamp). */
  readonly timestamp: number | undefined;
  readonly datatype: number | undefined;
  readonly historical: boolean;
  readonly transient: boolean;
  readonly isNull: boolean;
  readonly value: Payload_Metric['value'];
}

export interface SpPayload {
  readonly timestamp: number | undefined;
  /** 0-255; absent in NDEATH (spec 6.4.5 "Payload", [tck-id-payloads-ndeath-seq]). */
  readonly seq: number | undefined;
  readonly metrics: readonly SpMetric[];
}

import type { IngestGate } from '../broker/front.js';
import type { decodePayload, encodePayload } from './codec.js';
import { NAMESPACE } from './topic.js';

/** What the service needs of codec.ts. */
export interface SparkplugCodec {
  readonly decodePayload: typeof decodePayload;
  readonly encodePayload: typeof encodePayload;
}

interface HeldPublish {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: number;
  readonly receivedAt: number;
  readonly done: (err?: Error | null) => void;
}

/**
 * The Sparkplug B codec, loaded after the gateway listens instead of before (BENCHMARKS.md, start-up): protobuf-es
 * and the generated schema are ~50 ms of module loading on the gateway thread, a sixth of its way to the first
 * CONNACK. The composition root starts load() once MQTT listens and awaits it before its first tick, and before
 * replaying an ingest log (which may hold spBv1.0 publishes).
 *
 * Decoding is synchronous on the ingest path, so a spBv1.0 publish that arrives before the codec is there is held
 * by hold()'s gate, and so is every publish after it, in arrival order: none of them is logged, processed or
 * acknowledged before the codec is loaded; then each goes through the gateway's gate as if it had just arrived (a
 * QoS 1 publish still gets its PUBACK only once the ingest log has it, docs/durability.md).
 */
export class LazySparkplugCodec {
  private codec: SparkplugCodec | undefined;
  private loading: Promise<void> | undefined;
  private failed: Error | undefined;
  private held: HeldPublish[] = [];
  private inner: IngestGate | undefined;

  /** `importCodec`: tests give a failing one. */
  constructor(private readonly importCodec: () => Promise<SparkplugCodec> = () => import('./codec.js')) {}

  /** The codec; throws before load() resolved (a spBv1.0 publish that got past hold()'s gate would be a bug). */
  readonly get = (): SparkplugCodec => {
    if (this.codec === undefined) throw new Error('the Sparkplug codec is not loaded yet');
    return this.codec;
  };

  /** Loads the codec once; then passes the held publishes on, in order. */
  load(): Promise<void> {
    this.loading ??= this.importCodec().then(
      (codec) => {
        this.codec = codec;
        this.release();
      },
      (err: unknown) => {
        // A broken installation: the held spBv1.0 publishes are refused (QoS 1 gets no PUBACK, the device sends it
        // again), the others go on as if the codec had loaded.
        const failure = (this.failed = err instanceof Error ? err : new Error(String(err)));
        for (const h of this.held.splice(0)) {
          if (h.topic.startsWith(NAMESPACE)) h.done(failure);
          else this.inner!(h.topic, h.payload, h.qos, h.receivedAt, h.done);
        }
        throw failure;
      },
    );
    return this.loading;
  }

  /** `gate` with the hold in front of it, for the broker (the one gate of the gateway). */
  hold(gate: IngestGate): IngestGate {
    this.inner = gate;
    return (topic, payload, qos, receivedAt, done) => {
      if (this.codec !== undefined || (this.held.length === 0 && !topic.startsWith(NAMESPACE))) return gate(topic, payload, qos, receivedAt, done);
      if (this.failed !== undefined) return done(this.failed);
      // The broker thread's payloads are reused once this call returns (publish-ring.ts, RecordHandler): a held one is copied.
      this.held.push({ topic, payload: Buffer.from(payload), qos, receivedAt, done });
      this.load().catch(() => undefined); // refused above; the composition root sees the failure through its own load()
    };
  }

  private release(): void {
    const held = this.held;
    this.held = [];
    for (const h of held) this.inner!(h.topic, h.payload, h.qos, h.receivedAt, h.done);
  }
}

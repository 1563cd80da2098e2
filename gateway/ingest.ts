import { DecodeScratch, decodeSensorValue, decodeTelemetry, type DecodeLimits, type DecodeSink, type RejectReason } from './pipeline/decode.js';
import { parseIngestTopic, type IngestTopic } from './wire/topics.js';
import type { DeviceMessage } from './pipeline/types.js';
import type { RateLimitedLog } from './log.js';
import type { Metrics } from './metrics.js';

const TOPICS = 16_384;

/** Sparkplug B topics (sparkplug/service.ts): decodes into `sink`; false when the topic is not one. */
export interface SparkplugIngest {
  handle(topic: string, payload: Buffer, receivedAt: number, sink: DecodeSink): boolean;
}

/** The part of the pipeline that ingest feeds: dedup + windows. It reads `msg` during the call and keeps none of it. */
export interface MessageConsumer {
  ingest(
    msg: DeviceMessage,
    arrivalMs: number,
  ): { readonly accepted: number; readonly duplicate: number; readonly late: number; readonly tooManySensors?: number };
}

/**
 * Ingest: one publish on an ingest topic -> decoded messages -> the pipeline, with every outcome counted.
 * Called synchronously from the broker's publish gate for each PUBLISH, so it keeps no per-call allocations
 * beyond what decoding needs, and counts in plain fields that reach the prom-client counters only when they
 * are read (metrics.onCollect). One device's garbage is counted and logged (rate-limited) and affects nobody else.
 */
export class Ingest implements DecodeSink {
  private topic = '';
  private device = '';
  private receivedAt = 0;
  // Counted since the last collect.
  private received = 0;
  private accepted = 0;
  private duplicate = 0;
  private late = 0;
  /** Parsed topics: a device publishes on the same few all day (bounded: cleared when it grows past TOPICS). */
  private readonly topics = new Map<string, IngestTopic | undefined>();
  /** The fast path's message, filled anew for each publish: the consumer keeps nothing of it. */
  private readonly scratch = new DecodeScratch();

  constructor(
    private readonly limits: DecodeLimits,
    private readonly consumer: MessageConsumer,
    private readonly metrics: Metrics,
    private readonly rejectLog: RateLimitedLog,
    private readonly sparkplug?: SparkplugIngest,
  ) {
    metrics.onCollect(() => this.publishCounts());
  }

  /** Returns false when the topic is not an ingest topic (the broker just routes it). */
  handle(topic: string, payload: Buffer, receivedAt: number): boolean {
    let parsed = this.topics.get(topic);
    if (parsed === undefined) {
      parsed = parseIngestTopic(topic);
      if (parsed === undefined) return this.sparkplug !== undefined && this.handleSparkplug(this.sparkplug, topic, payload, receivedAt);
      if (this.topics.size >= TOPICS) this.topics.clear();
      this.topics.set(topic, parsed);
    }
    this.received++;
    this.topic = topic;
    this.device = parsed.device;
    this.receivedAt = receivedAt;
    switch (parsed.kind) {
      case 'telemetry':
        decodeTelemetry(parsed.device, payload, receivedAt, this.limits, this, this.scratch);
        break;
      case 'sensor':
        decodeSensorValue(parsed.device, parsed.sensor, payload, receivedAt, this.limits, this);
        break;
      case 'invalid':
        this.reject('bad_topic', parsed.detail);
        break;
    }
    return true;
  }

  private handleSparkplug(sp: SparkplugIngest, topic: string, payload: Buffer, receivedAt: number): boolean {
    this.topic = topic;
    this.device = topic;
    this.receivedAt = receivedAt;
    if (!sp.handle(topic, payload, receivedAt, this)) return false;
    this.received++;
    return true;
  }

  message(msg: DeviceMessage): void {
    const outcome = this.consumer.ingest(msg, this.receivedAt);
    this.accepted += outcome.accepted;
    this.duplicate += outcome.duplicate;
    this.late += outcome.late;
    const refused = outcome.tooManySensors ?? 0;
    // One count per refused reading, like bad_id or bad_value; one inc per message, not per reading.
    if (refused > 0) this.rejectMany('too_many_sensors', refused, `${refused} reading(s) of new sensor names beyond pipeline.maxSensorsPerDevice`);
  }

  reject(reason: RejectReason, detail: string): void {
    this.rejectMany(reason, 1, detail);
  }

  private rejectMany(reason: RejectReason, n: number, detail: string): void {
    this.metrics.messagesRejected.inc({ reason }, n);
    this.rejectLog.warn(`${this.device}:${reason}`, { device: this.device, topic: this.topic, reason, detail }, 'message rejected');
  }

  /** Moves the counts into the prom-client counters (called before any counter is read). */
  publishCounts(): void {
    const m = this.metrics;
    if (this.received > 0) m.messagesReceived.inc(this.received);
    if (this.accepted > 0) m.readingsAccepted.inc(this.accepted);
    if (this.duplicate > 0) m.readingsDuplicate.inc(this.duplicate);
    if (this.late > 0) m.readingsLate.inc(this.late);
    this.received = this.accepted = this.duplicate = this.late = 0;
  }
}

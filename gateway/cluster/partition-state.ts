import type { AlertService } from '../alerts/service.js';
import { Ingest, type MessageConsumer } from '../ingest.js';
import type { RateLimitedLog, Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { Pipeline, type PipelineOutput } from '../pipeline/pipeline.js';
import type { PipelineSettings, Reading } from '../pipeline/types.js';

/** The state one partition's owner keeps: dedup, windows and alerts of the partition's devices. */
export interface PartitionState {
  /** Decode + pipeline + alerts for one stored publish (contains its own failures: counted, logged). */
  process(topic: string, payload: Buffer, receivedAt: number): void;
  /** The pipeline's idle close up to `t` (a receive time of the stream, or the clock minus idleGrace when caught up). */
  tick(t: number): void;
  tickAlerts(now: number): void;
  /** The state now, whole (one partition is a small share of the gateway's state). */
  capture(): { pipeline: Uint8Array; alerts: Uint8Array };
  stats(): ReturnType<Pipeline['stats']>;
  /** Stops its alert rules watcher; the state is dropped. */
  close(): void;
}

export interface PartitionParts {
  readonly settings: PipelineSettings;
  /** Windows to the outbox (and live view); readings to the live view. The partition's alerts get readings too. */
  readonly output: Required<PipelineOutput>;
  /** A started AlertService whose events go to the alert publisher (one per partition: its state is checkpointed with it). */
  readonly newAlerts: () => AlertService;
  readonly metrics: Metrics;
  readonly rejectLog: RateLimitedLog;
  readonly log: Logger;
  readonly maxPayloadBytes: number;
}

/**
 * Builds partition states. One Ingest serves them all (its counters are registered once): processing is
 * synchronous, so the router points it at the partition whose message is being processed.
 */
export class PartitionStates {
  private target: Pipeline | undefined;
  private readonly ingest: Ingest;

  constructor(private readonly parts: PartitionParts) {
    const router: MessageConsumer = { ingest: (msg, at) => this.target!.ingest(msg, at) };
    this.ingest = new Ingest({ maxPayloadBytes: parts.maxPayloadBytes }, router, parts.metrics, parts.rejectLog);
  }

  create(partition: number, saved?: { pipeline: Uint8Array; alerts: Uint8Array }): PartitionState {
    const { parts } = this;
    const alerts = parts.newAlerts();
    const output: PipelineOutput = {
      window: parts.output.window,
      reading: (r: Reading) => {
        alerts.onReading(r);
        parts.output.reading(r);
      },
    };
    let pipeline: Pipeline;
    if (saved !== undefined && saved.pipeline.length > 0) {
      try {
        pipeline = new Pipeline(parts.settings, output, saved.pipeline);
      } catch (err) {
        parts.log.error({ err, partition }, 'partition checkpoint could not be restored (different pipeline settings?): starting empty');
        pipeline = new Pipeline(parts.settings, output);
      }
    } else pipeline = new Pipeline(parts.settings, output);
    if (saved !== undefined && saved.alerts.length > 0) alerts.restore(saved.alerts);
    return {
      process: (topic, payload, receivedAt) => {
        this.target = pipeline;
        try {
          this.ingest.handle(topic, payload, receivedAt);
        } catch (err) {
          parts.metrics.messagesRejected.inc({ reason: 'internal_error' });
          parts.log.error({ err, topic, partition }, 'ingest failed');
        }
      },
      tick: (t) => pipeline.tick(t),
      tickAlerts: (now) => alerts.tick(now),
      capture: () => {
        const p = pipeline.beginSnapshot();
        const a = alerts.snapshot();
        while (!p.step(64));
        return { pipeline: p.finish(), alerts: a };
      },
      stats: () => pipeline.stats(),
      close: () => alerts.close(),
    };
  }
}

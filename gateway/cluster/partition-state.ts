import type { AlertService } from '../alerts/service.js';
import { Ingest, type MessageConsumer } from '../ingest.js';
import type { RateLimitedLog, Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { Pipeline, type PipelineOutput } from '../pipeline/pipeline.js';
import type { PipelineSettings, Reading } from '../pipeline/types.js';
import type { SparkplugService } from '../sparkplug/service.js';

/** What a partition's checkpoint holds besides its sequence: the three snapshots (FORMATS). */
export interface PartitionSnapshot {
  readonly pipeline: Uint8Array;
  readonly alerts: Uint8Array;
  readonly sparkplug: Uint8Array;
}

/** The state one partition's owner keeps: dedup, windows and alerts of the partition's devices, its Sparkplug edge nodes. */
export interface PartitionState {
  /** Decode + pipeline + alerts for one stored publish (contains its own failures: counted, logged). */
  process(topic: string, payload: Buffer, receivedAt: number): void;
  /**
   * The pipeline's idle close and the Sparkplug reorder deadlines up to `t`: a time of the stream (a receive time,
   * or a tick marker's), never the worker's clock, so a replay decides the same (windows, rebirth requests).
   */
  tick(t: number): void;
  /** Open windows or awaited Sparkplug seqs: the stream needs tick markers to close or expire them. */
  needsTicks(): boolean;
  tickAlerts(now: number): void;
  /** The state now, whole (one partition is a small share of the gateway's state). */
  capture(): PartitionSnapshot;
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
  /**
   * The Sparkplug B host application (decoding, counters, rebirth requests through the relay): each partition has
   * a host of its own (the sessions of its edge nodes), checkpointed with it (docs/sparkplug.md, docs/cluster.md).
   */
  readonly sparkplug: SparkplugService;
  /** A Sparkplug node or device went offline (NDEATH, DDEATH): the live view marks it (the partition's alerts are told). */
  readonly offline: (device: string) => void;
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
    this.ingest = new Ingest({ maxPayloadBytes: parts.maxPayloadBytes }, router, parts.metrics, parts.rejectLog, parts.sparkplug);
  }

  create(partition: number, saved?: PartitionSnapshot): PartitionState {
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
    const sparkplug = parts.sparkplug;
    // The receive time of the message being processed: an NDEATH's sensors are stale as of it (the stream's time).
    let at = 0;
    const host = sparkplug.newHost((device) => {
      alerts.staleNow(device, at);
      parts.offline(device);
    });
    if (saved !== undefined && saved.sparkplug.length > 0) {
      try {
        sparkplug.restore(saved.sparkplug, host);
      } catch (err) {
        parts.log.error({ err, partition }, 'partition sparkplug state could not be restored: its edge nodes will be asked to rebirth');
      }
    }
    return {
      process: (topic, payload, receivedAt) => {
        this.target = pipeline;
        sparkplug.use(host);
        at = receivedAt;
        try {
          this.ingest.handle(topic, payload, receivedAt);
        } catch (err) {
          parts.metrics.messagesRejected.inc({ reason: 'internal_error' });
          parts.log.error({ err, topic, partition }, 'ingest failed');
        }
      },
      tick: (t) => {
        pipeline.tick(t);
        host.tick(t);
      },
      needsTicks: () => pipeline.stats().openWindows > 0 || host.awaiting(),
      tickAlerts: (now) => alerts.tick(now),
      capture: () => {
        const p = pipeline.beginSnapshot();
        const a = alerts.snapshot();
        const s = sparkplug.snapshot(host);
        while (!p.step(64));
        return { pipeline: p.finish(), alerts: a, sparkplug: s };
      },
      stats: () => pipeline.stats(),
      close: () => {
        alerts.close();
        sparkplug.drop(host);
      },
    };
  }
}

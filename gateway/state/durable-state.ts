import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { MovedAside } from '../persist/sqlite.js';
import { runQueueWaitClock } from '../threads/run-queue.js';
import type { Timers } from '../time/timers.js';
import { isIngestTopic } from '../wire/topics.js';
import { Checkpointer, type StateCapture } from './checkpointer.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { IngestLog, IngestRecord } from './ingest-log.js';
import { IngestJournal, type AckCallback } from './journal.js';
import { replayLog, restoreCheckpoint, type RestoreParts } from './recovery.js';
import { SqliteStateStore } from './sqlite-state.js';

export interface DurableStateDeps {
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly timers: Timers;
  /** Defaults to `{buffer.dir}/state.db`; unit tests pass a MemoryStateStore. */
  readonly store?: CheckpointStore & IngestLog;
  /** How long one step of a checkpoint's capture may hold the event loop (Checkpointer; tests: 0, one step a turn). */
  readonly checkpointSliceMs?: number;
  /** Told when state.db was moved aside (persist/sqlite.ts). */
  readonly onMovedAside?: (moved: MovedAside) => void;
}

export interface StateParts {
  /** Decode + pipeline for one publish (ingest.handle); must contain its own failures. */
  readonly process: (r: IngestRecord) => void;
  readonly tick: (t: number) => void;
  /** Begins capturing the pipeline and alert state for a checkpoint (Checkpointer). */
  readonly capture: () => StateCapture;
  /** outbox.flush(): runs before each checkpoint commits. */
  readonly commitEmitted: () => void;
  /** outbox.seal(), returning outbox.commitSealed in pieces: the sliced checkpoints' way to the same (CheckpointerOptions). */
  readonly sealEmitted?: () => () => boolean;
}

/**
 * The gateway's durability (docs/durability.md) behind four calls for the composition root:
 *   restore(parts)  -> the pipeline of the last checkpoint;
 *   recover(parts)  -> replays the ingest log after it and checkpoints (before any socket opens);
 *   accept(...)     -> the publish gate: QoS >= 1 ingest publishes are logged before PUBACK (group commit),
 *                      everything else takes the fast path;
 *   stop()          -> the graceful stop's final checkpoint.
 * `{buffer.dir}/state.db` holds the checkpoint and the log (sqlite-state.ts); docs/durability.md has the
 * reasoning.
 */
export class DurableState {
  private readonly store: CheckpointStore & IngestLog;
  private journal: IngestJournal | undefined;
  private checkpointer: Checkpointer | undefined;
  private parts: StateParts | undefined;
  private position = 0;
  private changes = 0;

  constructor(
    private readonly config: GatewayConfig,
    private readonly deps: DurableStateDeps,
  ) {
    this.store =
      deps.store ??
      new SqliteStateStore({
        dir: config.buffer.dir,
        sync: config.durability.sync,
        log: deps.log.child({ part: 'state' }),
        backgroundNice: config.runtime.backgroundThreadNice,
        ...(deps.onMovedAside ? { onMovedAside: deps.onMovedAside } : {}),
      });
  }

  restore<P>(parts: RestoreParts<P>): P {
    const { pipeline, position } = restoreCheckpoint(this.store, parts, this.deps.log);
    this.position = position;
    return pipeline;
  }

  /** After restore(): whether recover() will replay publishes (the log holds some after the checkpoint). */
  replayPending(): boolean {
    return this.store.totals().lastPosition > this.position;
  }

  /** Replays the log after the restored checkpoint, then checkpoints; builds the journal and the checkpointer. */
  recover(parts: StateParts): void {
    const { log, metrics, timers } = this.deps;
    const d = this.config.durability;
    this.parts = parts;
    // Called here, on the gateway thread, whose waits it reads.
    const waited = runQueueWaitClock();
    this.checkpointer = new Checkpointer({
      store: this.store,
      log: this.store,
      timers,
      intervalMs: d.checkpointInterval,
      capture: parts.capture,
      ...(this.deps.checkpointSliceMs !== undefined ? { sliceMs: this.deps.checkpointSliceMs } : {}),
      commitEmitted: parts.commitEmitted,
      ...(parts.sealEmitted !== undefined ? { sealEmitted: parts.sealEmitted } : {}),
      version: () => this.changes,
      onSaved: () => this.journal?.resume(),
      ...(waited !== undefined ? { waited } : {}),
      metrics,
      logger: log.child({ part: 'state' }),
    });
    this.journal = new IngestJournal({
      log: this.store,
      timers,
      commitDelayMs: d.commitDelay,
      maxBytes: d.logMaxBytes,
      maxAgeMs: d.logMaxAge,
      process: (r) => this.process(r),
      wantCheckpoint: () => this.checkpointer!.request(),
      metrics,
      logger: log.child({ part: 'ingest-log' }),
    });
    const replayed = replayLog(this.store, this.position, { tick: parts.tick, process: (r) => this.process(r) }, log, metrics);
    if (replayed > 0) this.checkpointer.checkpoint();
  }

  /**
   * The publish gate. QoS >= 1 on an ingest topic: logged, processed and acknowledged by the journal. Anything
   * else (QoS 0: at most once by contract; other topics: just routed) is processed at once and acknowledged.
   */
  accept(topic: string, payload: Buffer, qos: number, receivedAt: number, done: AckCallback): void {
    const record = { topic, payload, receivedAt };
    if (qos > 0 && isIngestTopic(topic)) return this.journal!.submit(record, done);
    this.process(record);
    done(null);
  }

  /** A state change outside ingest (a window closed by the tick, an alert event): the next checkpoint is needed. */
  touch(): void {
    this.changes++;
  }

  /** The time the idle-close tick may go to: not past a publish still waiting for its log write. */
  tickTime(now: number): number {
    const waiting = this.journal?.oldestWaitingAt();
    return waiting !== undefined && waiting < now ? waiting : now;
  }

  /** Once MQTT listens: the periodic checkpoints, and the checkpoint writer's thread started (not at the first one). */
  start(): void {
    this.store.prestart?.();
    this.checkpointer!.start();
  }

  /** Graceful stop, after the broker stopped reading: log what waits, then a final checkpoint. */
  stop(): boolean {
    this.checkpointer?.stop();
    this.journal?.close();
    return this.checkpointer?.checkpoint() ?? true;
  }

  close(): void {
    this.store.close();
  }

  private process(r: IngestRecord): void {
    this.changes++;
    this.parts!.process(r);
  }
}

import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { CheckpointStore } from './checkpoint-store.js';
import type { IngestLog, IngestRecord } from './ingest-log.js';

export interface RestoreParts<P> {
  /**
   * Builds the pipeline, from a snapshot when there is one; throws when the snapshot does not fit. `fromRows`:
   * the snapshot is the store's rows (Checkpoint.rows).
   */
  readonly pipeline: (snapshot?: Uint8Array, fromRows?: boolean) => P;
  readonly alerts: { restore(snapshot: Uint8Array): void };
  /** The Sparkplug host; a part that does not restore is logged and the host starts empty (nodes are asked to rebirth). */
  readonly sparkplug: { restore(snapshot: Uint8Array): void };
}

/**
 * Start, step 1: the state of the last checkpoint (open windows, retained windows, dedup keys, alert state, the
 * Sparkplug host's edge nodes) and the log position it covers. A snapshot that cannot be restored (e.g.
 * pipeline.interval changed) is logged and the pipeline starts empty; the log is still replayed after the
 * position, as the best that can be done.
 */
export function restoreCheckpoint<P>(store: CheckpointStore, parts: RestoreParts<P>, log: Logger): { pipeline: P; position: number } {
  const cp = store.load();
  if (cp === undefined) return { pipeline: parts.pipeline(), position: 0 };
  let pipeline: P;
  try {
    pipeline = parts.pipeline(cp.pipeline, cp.rows === true);
    log.info(
      { savedAt: new Date(cp.savedAt).toISOString(), logPosition: cp.logPosition, ...statsOf(pipeline) },
      'pipeline state restored from the last checkpoint',
    );
  } catch (err) {
    log.error({ err }, 'pipeline checkpoint could not be restored (different pipeline settings?): starting empty');
    pipeline = parts.pipeline();
  }
  parts.alerts.restore(cp.alerts);
  try {
    parts.sparkplug.restore(cp.sparkplug);
  } catch (err) {
    log.error({ err }, 'sparkplug host state could not be restored: edge nodes will be asked to rebirth');
  }
  return { pipeline, position: cp.logPosition };
}

/**
 * Start, step 2: feeds the logged publishes after `position` through the same path as live ones, in log order,
 * each with its LOGGED receive time (the event time of readings sent without ts), after ticking the pipeline's
 * idle close to that time. The caller then takes a checkpoint, which commits the re-emitted windows to the
 * outbox and truncates the log. Replaying the same log twice (a crash during replay) gives the same result.
 */
export function replayLog(
  log: IngestLog,
  position: number,
  feed: { tick(t: number): void; process(r: IngestRecord): void },
  logger: Logger,
  metrics: Metrics,
): number {
  let n = 0;
  let from: number | undefined;
  let to: number | undefined;
  for (const r of log.after(position)) {
    feed.tick(r.receivedAt);
    feed.process(r);
    from ??= r.receivedAt;
    to = r.receivedAt;
    n++;
  }
  if (n > 0) {
    metrics.ingestLogReplayed.inc(n);
    logger.warn({ publishes: n, from: new Date(from!).toISOString(), to: new Date(to!).toISOString() }, 'replayed the ingest log after an unclean stop');
  }
  return n;
}

function statsOf(p: unknown): Record<string, unknown> {
  const stats = (p as { stats?: () => Record<string, unknown> }).stats;
  return typeof stats === 'function' ? stats.call(p) : {};
}

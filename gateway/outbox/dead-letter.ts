import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { PermanentWriteError } from '../sink/errors.js';
import { splitLines } from '../sink/line-protocol.js';
import type { Timers } from '../time/timers.js';
import type { Request } from './request.js';
import type { OutboxStore, StoredBatch } from './store.js';

/**
 * The reject outcome of a request (store.ts: accept, keep, reject): what InfluxDB refused for good goes to the
 * dead letters with the reason, only the refused lines when it said which, and the rest counts as written.
 * What it needs of the drainer's deps (DrainerDeps).
 */
export interface DeadLetterDeps {
  readonly store: OutboxStore;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly timers: Timers;
}

/**
 * A request InfluxDB refused in part, each batch's refused lines known (refusedByBatch): acknowledges the
 * batches without refused lines, dead-letters the refused lines of the others. True when some were.
 */
export function settleSplit(d: DeadLetterDeps, request: Request, split: ReadonlyMap<number, PermanentWriteError>): boolean {
  const clean = request.group.filter((b) => !split.has(b.id));
  if (clean.length > 0) {
    d.store.ack(clean.map((b) => b.id));
    d.metrics.pointsWritten.inc(clean.reduce((n, b) => n + b.points, 0));
  }
  for (const b of request.group) {
    const err = split.get(b.id);
    if (err) deadLetter(d, b, err);
  }
  return split.size > 0;
}

/** Moves `batch` (or only its lines InfluxDB named) to the dead letters, counted and logged. */
export function deadLetter(d: DeadLetterDeps, batch: StoredBatch, err: PermanentWriteError): void {
  const now = d.timers.now();
  let refusedPoints = batch.points;
  if (err.refusedLines !== undefined) {
    const lines = splitLines(batch.body.toString());
    const refused = err.refusedLines.map((i) => lines[i]).filter((l): l is string => l !== undefined);
    refusedPoints = refused.length;
    d.store.deadLetter(batch.id, err.message, now, { body: refused.join('\n'), points: refused.length });
    d.metrics.pointsWritten.inc(batch.points - refused.length);
  } else {
    d.store.deadLetter(batch.id, err.message, now);
  }
  d.metrics.outboxDeadLettered.inc(refusedPoints);
  d.log.error(
    { batchId: batch.id, points: batch.points, refused: refusedPoints, partial: err.partial, status: err.status, err: err.message },
    'InfluxDB refused points permanently: moved them to the dead letters',
  );
}

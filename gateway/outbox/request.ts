import { PermanentWriteError } from '../sink/errors.js';
import type { WriteBody } from '../sink/influx-writer.js';
import { attribute } from './attribute.js';
import { SERIES_BUCKETS, splitIntoLanes, withNewlines } from './lanes.js';
import type { StoredBatch } from './store.js';

/** When a request is split into lanes (lanes.ts): a backlog's large requests; live flushes stay whole. */
export interface LaneSettings {
  readonly lanes: number;
  readonly minSplitPoints: number;
}

/** One request of the drainer: a group of consecutive batches, and the bodies that carry it to InfluxDB. */
export interface Request {
  readonly group: readonly StoredBatch[];
  readonly lastId: number;
  readonly points: number;
  /** The group's bodies joined, or split into lanes (done when the group is read, so a read-ahead splits off-peak). */
  readonly parts: readonly WriteBody[];
}

/** `lanes` undefined: never split (the one-by-one resend mode, whose refused line numbers are per request). */
export function toRequest(group: readonly StoredBatch[], lanes: LaneSettings | undefined): Request {
  let points = 0;
  for (const b of group) points += b.points;
  const lastId = group[group.length - 1]!.id;
  if (lanes !== undefined && lanes.lanes > 1 && points >= lanes.minSplitPoints) {
    // Each batch's share of a lane is a byte range of its stored body: no copy, no line parsed.
    return { group, lastId, points, parts: splitIntoLanes(group, Math.min(lanes.lanes, SERIES_BUCKETS)) };
  }
  return { group, lastId, points, parts: [withNewlines(group.map((b) => b.body))] };
}

/**
 * The refused lines of a request whose parts all settled (stored, or refused with every refused line named), per
 * batch id, as one PermanentWriteError per batch (its lines numbered within the batch). Undefined when a part is
 * still to be retried, when InfluxDB did not name the refused lines, or when they cannot be placed.
 */
export function refusedByBatch(request: Request, results: readonly PromiseSettledResult<unknown>[]): Map<number, PermanentWriteError> | undefined {
  const perPart: (readonly number[])[] = [];
  const errors: (PermanentWriteError | undefined)[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') {
      perPart.push([]);
      errors.push(undefined);
      continue;
    }
    const e = r.reason as unknown;
    if (!(e instanceof PermanentWriteError) || e.refusedLines === undefined) return undefined;
    perPart.push(e.refusedLines);
    errors.push(e);
  }
  const chunks = request.parts.map((p) => (typeof p === 'string' ? [Buffer.from(p)] : Buffer.isBuffer(p) ? [p] : p));
  const byBatch = attribute(request.group, chunks, perPart);
  if (byBatch === undefined) return undefined;
  const reasons = [...new Set(errors.flatMap((e) => (e ? [e.message] : [])))].join('; ');
  const status = errors.find((e) => e !== undefined)?.status ?? 400;
  return new Map([...byBatch].map(([id, lines]) => [id, new PermanentWriteError(reasons, status, lines)]));
}

import type { WriteBody } from '../sink/influx-writer.js';
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

import { splitBySeries } from './lanes.js';
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
  readonly parts: readonly Buffer[];
}

const NEWLINE = Buffer.from('\n');

/** `lanes` undefined: never split (the one-by-one resend mode, whose refused line numbers are per request). */
export function toRequest(group: readonly StoredBatch[], lanes: LaneSettings | undefined): Request {
  let points = 0;
  const bodies: Buffer[] = [];
  for (const b of group) {
    points += b.points;
    if (bodies.length > 0) bodies.push(NEWLINE);
    bodies.push(b.body);
  }
  const body = bodies.length === 1 ? bodies[0]! : Buffer.concat(bodies);
  const split = lanes !== undefined && lanes.lanes > 1 && points >= lanes.minSplitPoints;
  return { group, lastId: group[group.length - 1]!.id, points, parts: split ? splitBySeries(body, lanes.lanes) : [body] };
}

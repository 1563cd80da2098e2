import { addValue, exactMean } from './exact-sum.js';
import type { WindowPoint } from './types.js';

/**
 * The aggregate of one sensor over one tumbling window, in two shapes:
 *  - `Win`, a small object, while the window has changes not yet emitted (open, or reopened by late data);
 *  - a record of bytes inside the sensor's `sealed` Buffer once emitted and retained for corrections
 *    (window-record.ts, retained.ts): retained windows are the bulk of the pipeline's memory
 *    (correctionHorizon / interval per sensor).
 *
 * Every field is an order-independent function of the set of readings: min, max, count, the exact sum, and
 * first/last with deterministic tie-breaks (equal ts: first takes the smaller value, last the larger one).
 */
export class Win {
  count = 0;
  min = Infinity;
  max = -Infinity;
  firstTs = Infinity;
  first = 0;
  lastTs = -Infinity;
  last = 0;
  /** Exact sum as partials; `big` holds huge values scaled down (see exact-sum.ts). */
  partials: number[] = [];
  big: number[] | null = null;

  /** `rev` is the revision the next emission carries (= how many times this window was emitted). */
  constructor(
    public start: number,
    public rev: number,
  ) {}

  /** This object as a new window starting at `start` (SensorState.spare): every field as the constructor sets it. */
  reset(start: number): this {
    this.start = start;
    this.rev = 0;
    this.count = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.firstTs = Infinity;
    this.first = 0;
    this.lastTs = -Infinity;
    this.last = 0;
    this.partials.length = 0;
    this.big = null;
    return this;
  }

  /** `value` must be finite and not -0 (the pipeline normalises it). */
  add(ts: number, value: number): void {
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (ts < this.firstTs || (ts === this.firstTs && value < this.first)) {
      this.firstTs = ts;
      this.first = value;
    }
    if (ts > this.lastTs || (ts === this.lastTs && value > this.last)) {
      this.lastTs = ts;
      this.last = value;
    }
    this.big = addValue(this.partials, this.big, value);
  }

  /**
   * The point for this window. The mean is clamped to [min, max]: rounding (fl(sum) / count) may step one
   * ulp outside, and dashboards rightly assume min <= mean <= max.
   */
  point(device: string, sensor: string): WindowPoint {
    let mean = exactMean(this.partials, this.big, this.count);
    if (mean < this.min) mean = this.min;
    else if (mean > this.max) mean = this.max;
    return {
      device,
      sensor,
      start: this.start,
      mean,
      min: this.min,
      max: this.max,
      first: this.first,
      last: this.last,
      count: this.count,
      revision: this.rev,
    };
  }
}

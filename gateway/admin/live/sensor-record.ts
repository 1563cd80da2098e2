/**
 * One sensor's record in the live view (live-view.ts): its numbers live in a share of a slab, a Float64Array
 * shared by SLAB_RECORDS sensors, rather than in object fields and typed arrays of its own (RecordSlabs).
 */

/**
 * Readings per minute are counted in 10 s buckets of gateway (arrival) time: the current bucket, the five
 * before it and the part of the sixth that is still inside the last 60 s make a sliding minute.
 */
export const BUCKET_MS = 10_000;
export const FULL_BUCKETS = 6;
export const SLOTS = FULL_BUCKETS + 1; // + the bucket being filled
/** Window means kept per sensor for the sparkline. */
export const SPARK_WINDOWS = 30;
/**
 * A record's scalars, then its counts and window ring, in its share of a slab (SensorRecord). The scalars' offsets
 * are exported for LiveView.onReading, which writes them in place: a double handed to a setter that the compiler
 * did not inline is boxed, and on the hot path that was ~30 B of garbage per reading.
 */
export const V_VALUE = 0;
export const V_TS = 1;
export const V_NEWEST = 2;
export const V_ARRIVED = 3;
export const V_INTERVAL = 4;
const COUNTS = 5;
const W_START = COUNTS + SLOTS;
const W_MEAN = W_START + SPARK_WINDOWS;
const REC_LEN = W_MEAN + SPARK_WINDOWS;

export class SensorRecord {
  dirty = false;
  windowsDirty = false;
  offline = false;
  wHead = 0;
  wLen = 0;
  /**
   * The record's numbers are REC_LEN doubles of `buf` from `at`: its scalars (V_*), the readings per 10 s bucket
   * (SLOTS, from COUNTS), then the ring of window starts (from W_START) and of their means (from W_MEAN), `wLen`
   * valid entries ending at `wHead - 1`. Counts are integers, exact in a float64. Each typed array costs a header,
   * an ArrayBuffer and its backing store's bookkeeping on top of its elements (~190 B): with three per sensor the
   * live view took 843 B a sensor, with one 411 B, with a share of a slab of SLAB_RECORDS sensors ~190 B less; and
   * a double in an object field is a boxed number of its own (16 B), so the scalars live here too (1,029 -> 854
   * -> ~790 B per sensor, 100k sensors in process).
   */
  constructor(
    readonly device: string,
    readonly sensor: string,
    readonly buf: Float64Array,
    readonly at: number,
  ) {
    buf[at + V_VALUE] = Number.NaN;
    buf[at + V_TS] = Number.NaN;
    buf[at + V_NEWEST] = Number.NEGATIVE_INFINITY;
    buf[at + V_ARRIVED] = Number.NEGATIVE_INFINITY;
    buf[at + V_INTERVAL] = 0;
  }

  /** The value of the reading with the greatest ts; null before one (NaN in the slab: readings are finite). */
  get value(): number | null {
    const v = this.buf[this.at + V_VALUE]!;
    return Number.isNaN(v) ? null : v;
  }
  /** That reading's ts; null as value. */
  get ts(): number | null {
    const v = this.buf[this.at + V_TS]!;
    return Number.isNaN(v) ? null : v;
  }
  /** Bucket number (gateway time / BUCKET_MS) that `buf[at + COUNTS + newest % SLOTS]` holds; -Infinity: never counted. */
  get newest(): number {
    return this.buf[this.at + V_NEWEST]!;
  }
  set newest(v: number) {
    this.buf[this.at + V_NEWEST] = v;
  }
  /** Coarse gateway time of the last arrival; -Infinity: none (a sensor known only from alert state). */
  get arrived(): number {
    return this.buf[this.at + V_ARRIVED]!;
  }
  /** Moving average of the gaps between arrivals (ms); 0 until two arrivals at different ticks. */
  get interval(): number {
    return this.buf[this.at + V_INTERVAL]!;
  }

  /** Counts a reading in bucket `b`, clearing the slots of the buckets skipped since the newest (at most SLOTS). */
  count(b: number): void {
    const counts = this.at + COUNTS;
    if (this.newest !== b) {
      const gap = Math.min(SLOTS, b - this.newest);
      for (let i = 1; i <= gap; i++) this.buf[counts + ((b - gap + i) % SLOTS)] = 0;
      this.newest = b;
    }
    this.buf[counts + (b % SLOTS)]!++;
  }

  /** Readings counted in bucket `b`, one of the SLOTS buckets up to `newest`. */
  countIn(b: number): number {
    return this.buf[this.at + COUNTS + (b % SLOTS)]!;
  }

  /** A window's mean: a newer window joins the ring; a correction of one still in it replaces its mean. */
  window(start: number, mean: number): void {
    const starts = this.at + W_START;
    const means = this.at + W_MEAN;
    const last = this.wLen > 0 ? this.buf[starts + ((this.wHead - 1 + SPARK_WINDOWS) % SPARK_WINDOWS)]! : Number.NEGATIVE_INFINITY;
    if (start > last) {
      this.buf[starts + this.wHead] = start;
      this.buf[means + this.wHead] = mean;
      this.wHead = (this.wHead + 1) % SPARK_WINDOWS;
      this.wLen = Math.min(this.wLen + 1, SPARK_WINDOWS);
      return;
    }
    // A correction of an older window is not shown anyway.
    for (let i = 0; i < this.wLen; i++) {
      const at = (this.wHead - 1 - i + SPARK_WINDOWS) % SPARK_WINDOWS;
      if (this.buf[starts + at] === start) {
        this.buf[means + at] = mean;
        return;
      }
    }
  }

  /** The ring's windows, oldest first: [start, mean]. */
  windows(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = this.wLen - 1; i >= 0; i--) {
      const at = (this.wHead - 1 - i + SPARK_WINDOWS) % SPARK_WINDOWS;
      out.push([this.buf[this.at + W_START + at]!, this.buf[this.at + W_MEAN + at]!]);
    }
    return out;
  }
}

/** Sensors per slab: one Float64Array of ~137 KB for this many records (records are never removed). */
const SLAB_RECORDS = 256;

/** Hands out records, each its share of the current slab; a new slab when it is used up. */
export class RecordSlabs {
  private slab = new Float64Array(0);
  private used = SLAB_RECORDS;

  take(device: string, sensor: string): SensorRecord {
    if (this.used === SLAB_RECORDS) {
      this.slab = new Float64Array(SLAB_RECORDS * REC_LEN);
      this.used = 0;
    }
    return new SensorRecord(device, sensor, this.slab, this.used++ * REC_LEN);
  }
}

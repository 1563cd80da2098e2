import type { Reading, WindowPoint } from '../../pipeline/types.js';
import { BUCKET_MS, FULL_BUCKETS, RecordSlabs, SLOTS, V_ARRIVED, V_INTERVAL, V_NEWEST, V_TS, V_VALUE, type SensorRecord } from './sensor-record.js';

export { BUCKET_MS, SPARK_WINDOWS } from './sensor-record.js';

/**
 * The operator page's "live view": per sensor, the last value and its time, readings per minute and the means
 * of the last few windows. Fed by the pipeline's callbacks on the hot path, so `onReading` does O(1) work and
 * allocates nothing once a sensor is known: no clock call (readings per minute use the coarse clock set by
 * `tick`), no key string (nested device -> sensor maps), and a changed sensor is queued once per batch through
 * its `dirty` flag. The SSE hub drains the queue every ~500ms and sends only what changed.
 *
 * Pure: time comes in through `tick(now)` only.
 */

/** What the page receives for one sensor (JSON over SSE and GET /api/live). */
export interface SensorView {
  readonly device: string;
  readonly sensor: string;
  /** The value of the reading with the greatest timestamp so far; null until a reading (windows restored first). */
  readonly value: number | null;
  /** That reading's timestamp (device time, epoch ms); null as value. */
  readonly ts: number | null;
  /** Accepted readings that arrived in the last 60 s (gateway time; 10 s buckets, the oldest prorated). */
  readonly perMinute: number;
  /** Last window means, oldest first: [windowStart, mean]. Omitted in deltas when the windows did not change. */
  readonly windows?: ReadonlyArray<readonly [number, number]>;
  /** Gateway time of the last arrival (to the flush period, see `tick`); null: none since the start. */
  readonly arrived: number | null;
  /** How long this sensor may stay silent before the page calls it offline: its own cadence, see `silenceAllowance`. */
  readonly offlineAfterMs: number;
  /** Present (true) while the sensor's source announced its death (Sparkplug NDEATH/DDEATH) and sent nothing since. */
  readonly offline?: true;
}

/** What the window queries (live-window.ts) read of a sensor; the live view's records, read-only. */
export interface LiveRecord {
  readonly device: string;
  readonly sensor: string;
  readonly value: number | null;
  readonly ts: number | null;
  readonly arrived: number;
  readonly interval: number;
  /** Sparkplug death announced and nothing received since (markOffline). */
  readonly offline: boolean;
}

/** Silence allowed when a sensor's cadence is not known yet (one reading so far). */
export const UNKNOWN_CADENCE_ALLOWANCE_MS = 60_000;
/** The least silence that counts as offline, whatever the cadence (the arrival clock moves in flush steps). */
export const MIN_ALLOWANCE_MS = 10_000;

/**
 * A sensor is offline once it has been silent for three of its usual gaps between arrivals (at least
 * MIN_ALLOWANCE_MS): a device that reports every 2 s is missed after 10 s, one that reports every 5 minutes
 * after 15 minutes, rather than one fixed limit for all.
 */
export function silenceAllowance(interval: number): number {
  return interval > 0 ? Math.max(MIN_ALLOWANCE_MS, 3 * interval) : UNKNOWN_CADENCE_ALLOWANCE_MS;
}

/**
 * Online: heard from within its cadence allowance and no death announced since (a Sparkplug NDEATH/DDEATH,
 * `markOffline`, counts at once rather than after the silence allowance). The page's isOnline (sensor-row.js) is the same rule.
 */
export function isOnline(rec: LiveRecord, now: number): boolean {
  return !rec.offline && now - rec.arrived <= silenceAllowance(rec.interval);
}

export class LiveView {
  private readonly devices = new Map<string, Map<string, SensorRecord>>();
  private readonly queue: SensorRecord[] = [];
  /** Sensors whose readings-per-minute may still change as buckets age (counted in the last minute). */
  private active = new Set<SensorRecord>();
  private bucket: number;
  private now: number;
  private count = 0;
  private readonly slabs = new RecordSlabs();

  constructor(now = 0) {
    this.bucket = Math.floor(now / BUCKET_MS);
    this.now = now;
  }

  /** Hot path: one call per accepted reading. Writes the record's slab in place (see V_VALUE: no boxed doubles). */
  onReading(r: Reading): void {
    const rec = this.record(r.device, r.sensor);
    rec.offline = false;
    const buf = rec.buf;
    const at = rec.at;
    const ts = r.ts;
    const last = buf[at + V_TS]!;
    // NaN: no reading yet (the record's getters say null).
    if (!(ts < last)) {
      buf[at + V_VALUE] = r.value;
      buf[at + V_TS] = ts;
    }
    const now = this.now;
    const gap = now - buf[at + V_ARRIVED]!;
    if (gap > 0 && gap !== Number.POSITIVE_INFINITY) {
      const interval = buf[at + V_INTERVAL]!;
      buf[at + V_INTERVAL] = interval === 0 ? gap : 0.8 * interval + 0.2 * gap;
    }
    buf[at + V_ARRIVED] = now;
    if (buf[at + V_NEWEST] !== this.bucket) this.active.add(rec);
    rec.count(this.bucket);
    this.markDirty(rec);
  }

  /** Called for each emitted window (and each correction of one, revision > 0). */
  onWindow(w: WindowPoint): void {
    const rec = this.record(w.device, w.sensor);
    rec.window(w.start, w.mean);
    rec.windowsDirty = true;
    this.markDirty(rec);
  }

  /** Every sensor of `device` is offline (Sparkplug NDEATH/DDEATH) until its next reading. */
  markOffline(device: string): void {
    const sensors = this.devices.get(device);
    if (sensors === undefined) return;
    for (const rec of sensors.values()) {
      rec.offline = true;
      this.markDirty(rec);
    }
  }

  /**
   * Advances the coarse clock. When a 10 s bucket boundary passes, every sensor counted in the last minute
   * is queued, since its readings per minute changed even if it sent nothing (a sensor that keeps sending
   * is queued by its readings anyway, so its rate is fresh in every batch).
   */
  tick(now: number): void {
    if (now <= this.now) return; // a clock stepping back leaves the buckets as they are
    this.now = now;
    const b = Math.floor(now / BUCKET_MS);
    if (b === this.bucket) return;
    this.bucket = b;
    const still = new Set<SensorRecord>();
    for (const rec of this.active) {
      this.markDirty(rec);
      if (b - rec.newest <= FULL_BUCKETS) still.add(rec);
    }
    this.active = still;
  }

  /** The sensors that changed since the last drain (windows included only where they changed). */
  drain(): SensorView[] {
    const out = this.queue.map((rec) => {
      const view = this.view(rec, rec.windowsDirty);
      rec.dirty = false;
      rec.windowsDirty = false;
      return view;
    });
    this.queue.length = 0;
    return out;
  }

  /** Forgets what changed (a page that connects now gets a snapshot instead). */
  discard(): void {
    for (const rec of this.queue) {
      rec.dirty = false;
      rec.windowsDirty = false;
    }
    this.queue.length = 0;
  }

  /** Every sensor seen, with its windows, sorted by device then sensor. */
  snapshot(): SensorView[] {
    const out: SensorView[] = [];
    for (const sensors of this.devices.values()) for (const rec of sensors.values()) out.push(this.view(rec, true));
    return out.sort((a, b) => (a.device === b.device ? cmp(a.sensor, b.sensor) : cmp(a.device, b.device)));
  }

  /**
   * Makes a sensor known without a reading: one that firing alerts name after a restart (restored alert state)
   * but that has not sent since. It shows with no value, and is queued so open pages learn of it.
   */
  ensure(device: string, sensor: string): void {
    const before = this.count;
    const rec = this.record(device, sensor);
    if (this.count !== before) this.markDirty(rec);
  }

  has(device: string, sensor: string): boolean {
    return this.devices.get(device)?.has(sensor) ?? false;
  }

  /** Every sensor, unordered (window queries). */
  forEach(visit: (rec: LiveRecord) => void): void {
    for (const sensors of this.devices.values()) for (const rec of sensors.values()) visit(rec);
  }

  /** The page's view of one record given out by forEach/drainEach. */
  viewOf(rec: LiveRecord, withWindows: boolean): SensorView {
    return this.view(rec as SensorRecord, withWindows);
  }

  /** As drain(), without building views: each changed record and whether its windows changed. */
  drainEach(visit: (rec: LiveRecord, windowsChanged: boolean) => void): void {
    for (const rec of this.queue) {
      const w = rec.windowsDirty;
      rec.dirty = false;
      rec.windowsDirty = false;
      visit(rec, w);
    }
    this.queue.length = 0;
  }

  /** The coarse clock (last tick). */
  get clock(): number {
    return this.now;
  }

  /** (device, sensor) pairs seen, e.g. for a rule preview. */
  *keys(): Iterable<{ device: string; sensor: string }> {
    for (const sensors of this.devices.values()) for (const rec of sensors.values()) yield { device: rec.device, sensor: rec.sensor };
  }

  get size(): number {
    return this.count;
  }

  private record(device: string, sensor: string): SensorRecord {
    let sensors = this.devices.get(device);
    if (sensors === undefined) {
      sensors = new Map();
      this.devices.set(device, sensors);
    }
    let rec = sensors.get(sensor);
    if (rec === undefined) {
      rec = this.slabs.take(device, sensor);
      sensors.set(sensor, rec);
      this.count++;
    }
    return rec;
  }

  private markDirty(rec: SensorRecord): void {
    if (rec.dirty) return;
    rec.dirty = true;
    this.queue.push(rec);
  }

  private view(rec: SensorRecord, withWindows: boolean): SensorView {
    const base: SensorView = {
      device: rec.device,
      sensor: rec.sensor,
      value: rec.value,
      ts: rec.ts,
      perMinute: this.perMinute(rec),
      arrived: rec.arrived === Number.NEGATIVE_INFINITY ? null : rec.arrived,
      offlineAfterMs: silenceAllowance(rec.interval),
      ...(rec.offline ? { offline: true as const } : {}),
    };
    if (!withWindows) return base;
    return { ...base, windows: rec.windows() };
  }

  /** Readings in the current bucket and the five before it, plus the share of the sixth still inside 60 s. */
  private perMinute(rec: SensorRecord): number {
    const elapsed = (this.now - this.bucket * BUCKET_MS) / BUCKET_MS;
    let sum = 0;
    for (let k = 0; k <= FULL_BUCKETS; k++) {
      const b = this.bucket - k;
      if (b < 0 || b > rec.newest || b <= rec.newest - SLOTS) continue;
      const n = rec.countIn(b);
      sum += k === FULL_BUCKETS ? n * (1 - elapsed) : n;
    }
    return Math.round(sum);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

import { PipelineState } from './pipeline-state.js';
import type { PipelineSnapshot } from './snapshot.js';
import { checkSeq, DeviceState, evictSeen, insertSeen, SEQ_DUPLICATE, SEQ_LATE, SEQ_NEW, SensorState } from './state.js';
import type { DeviceMessage, PipelineSettings, Reading, WindowPoint } from './types.js';
import { evictRetained, retain, takeRetained } from './retained.js';
import { Win } from './window.js';

export type { PipelineCapture, PipelineDelta, PipelineSnapshot } from './snapshot.js';
export { PipelineSnapshotError } from './snapshot.js';
export type { PipelineStats } from './pipeline-state.js';

/** Where the pipeline hands its results, synchronously. Callbacks must not throw (the runner contains failures). */
export interface PipelineOutput {
  /** A window aggregate; called again with revision + 1 when late data corrects an emitted window. */
  window(p: WindowPoint): void;
  /**
   * Each accepted reading (after dedup and lateness), e.g. for alert rules. `r` is one object reused for every
   * reading (no allocation per reading on the hot path): read it during the call, copy what you keep.
   */
  reading?(r: Reading): void;
}

/** Counts of the readings of one message. */
export interface IngestOutcome {
  accepted: number;
  duplicate: number;
  late: number;
  /** Readings of a sensor name the device may not add (maxSensorsPerDevice reached); nothing of them is kept. */
  tooManySensors: number;
}

/**
 * Dedup + tumbling-window resampling: a pure function of the messages, their arrival times and the ticks, with
 * no clock or timer of its own. Results do not depend on arrival order (see window.ts, exact-sum.ts); the only
 * effect of order is which readings are late or duplicate, and a reading accepted in a window is always counted
 * in that window's final revision.
 *
 * Rules, per sensor (event time = reading ts; watermark = greatest accepted ts - allowedLateness):
 *  - dedup: device-stamped readings are keyed (device, sensor, ts); gateway-stamped messages with a seq are
 *    keyed (device, seq) as a whole; others are not deduplicated. First one wins. Keys older than the greatest
 *    ts - dedupHorizon are forgotten, so a reading (or seq message) that old is counted late: it can no longer
 *    be proven new.
 *  - a window is emitted once end <= watermark, or by `tick(now)` once now >= max(end, arrival of the sensor's
 *    latest reading) + allowedLateness (a quiet sensor's window does not wait forever; a backlog flushed in
 *    one go is aggregated whole before the idle close).
 *  - an emitted window is retained while end > watermark - correctionHorizon (evicted by event time only);
 *    a reading landing in it reopens it, and it is emitted again with revision + 1 under the same rules.
 *    A reading whose window is older than that is counted late.
 */
export class Pipeline extends PipelineState {
  private readonly lateness: number;
  private readonly correction: number;
  private readonly dedupHorizon: number;
  private readonly maxSensors: number;
  private readonly outcome: IngestOutcome = { accepted: 0, duplicate: 0, late: 0, tooManySensors: 0 };
  /** The object handed to `out.reading`, reused (see PipelineOutput.reading). */
  private readonly current: { device: string; sensor: string; ts: number; value: number } = { device: '', sensor: '', ts: 0, value: 0 };
  /** The message being ingested is history (DeviceMessage.historical): no `out.reading` for its readings. */
  private historical = false;
  /**
   * No pending sensor's window closes by the clock before this (a lower bound): `tick`, every 250 ms by default,
   * skips its walk over all of them until then. Each walk sets it to the earliest close it saw, and each reading
   * lowers it to its sensor's close when that is earlier (a new window, an earlier one reopened, a clock gone back).
   * At 100,000 sensors the walk cost ~15 % of the gateway thread (BENCHMARKS.md, "Closing quiet windows").
   */
  private nextClose = -Infinity;

  /** Settings are checked, and the snapshot restored, by PipelineState (`fromRows`: see there). */
  constructor(
    settings: PipelineSettings,
    private readonly out: PipelineOutput,
    snapshot?: PipelineSnapshot,
    fromRows = false,
  ) {
    super(settings, snapshot, fromRows);
    this.lateness = settings.allowedLatenessMs;
    this.correction = settings.correctionHorizonMs;
    this.dedupHorizon = settings.dedupHorizonMs;
    this.maxSensors = settings.maxSensorsPerDevice ?? Infinity;
  }

  /**
   * Processes one message that arrived at gateway time `arrivalMs`; may emit windows synchronously.
   * Hot path: the returned object is reused, valid only until the next call to `ingest`.
   */
  ingest(msg: DeviceMessage, arrivalMs: number): IngestOutcome {
    const o = this.outcome;
    o.accepted = 0;
    o.duplicate = 0;
    o.late = 0;
    o.tooManySensors = 0;
    const readings = msg.readings;
    const n = readings.length;
    if (n === 0) return o;
    let d = this.devices.get(msg.device);
    if (d === undefined) {
      d = new DeviceState(msg.device);
      this.devices.set(msg.device, d);
      this.captures.created(d);
    } else this.captures.touch(d);
    const ts = msg.ts;
    if (!Number.isFinite(ts)) throw new RangeError(`non-finite ts from ${msg.device}`);
    const byTs = msg.tsFromDevice;
    if (!byTs && msg.seq !== undefined) {
      const before = d.seqs?.size ?? 0;
      const verdict = checkSeq(d, msg.seq, ts, this.dedupHorizon);
      this.counts.dedupKeys += (d.seqs as Map<number, number>).size - before;
      if (verdict === SEQ_LATE) o.late = n;
      else if (verdict === SEQ_DUPLICATE) o.duplicate = n;
      if (verdict !== SEQ_NEW) return o;
    }
    this.historical = msg.historical === true;
    for (let i = 0; i < n; i++) {
      const r = readings[i]!;
      this.one(d, r.sensor, ts, r.value, arrivalMs, byTs);
    }
    return o;
  }

  /** Closes windows of quiet sensors by the gateway clock. Called periodically by the runner (pipeline.tick). */
  tick(nowMs: number): void {
    if (nowMs < this.nextClose) return;
    // Readings taken while the walk runs (were an output to feed one back) lower it as usual.
    this.nextClose = Infinity;
    let next = Infinity;
    for (const s of this.pending) {
      const open = s.open;
      while (open.length > 0) {
        const close = this.closeOf(s);
        if (nowMs < close) {
          if (close < next) next = close;
          break;
        }
        this.captures.touch(this.devices.get(s.device)!);
        this.emitFirst(s);
      }
      if (open.length === 0) this.pending.delete(s);
    }
    if (next < this.nextClose) this.nextClose = next;
  }

  private one(d: DeviceState, sensor: string, ts: number, value: number, arrivalMs: number, byTs: boolean): void {
    if (value - value !== 0) throw new RangeError(`non-finite value from ${d.name}/${sensor}`);
    if (value === 0) value = 0; // -0 and 0 must aggregate alike
    let s = d.sensors.get(sensor);
    if (s === undefined) {
      // Checked before any state is made for it: a device inventing names costs nothing past the bound.
      if (d.sensors.size >= this.maxSensors) {
        this.outcome.tooManySensors++;
        return;
      }
      s = new SensorState(d.name, sensor);
      d.sensors.set(sensor, s);
      this.counts.sensors++;
    }
    const o = this.outcome;
    const interval = this.interval;
    const rem = ts % interval;
    const start = rem < 0 ? ts - rem - interval : ts - rem;
    // end <= watermark - correctionHorizon: the window is (or would be) evicted already.
    if (start + interval + this.lateness + this.correction <= s.maxTs) {
      o.late++;
      return;
    }
    if (byTs) {
      if (ts < s.maxTs - this.dedupHorizon) {
        o.late++;
        return;
      }
      if (!insertSeen(s, ts)) {
        o.duplicate++;
        return;
      }
      this.counts.dedupKeys++;
    }
    o.accepted++;
    // The window of nearly every reading is the sensor's newest open one: found here, not in a call that would box
    // `start` (a double handed to a function the compiler did not inline is a new heap number).
    const open = s.open;
    const newest = open.length > 0 ? open[open.length - 1]! : undefined;
    (newest !== undefined && newest.start === start ? newest : this.windowFor(s, start)).add(ts, value);
    s.lastArrival = arrivalMs;
    const advanced = ts > s.maxTs;
    if (advanced) {
      s.maxTs = ts;
      if (s.seenCount > 0 || s.runs.length > 0) this.counts.dedupKeys -= evictSeen(s, ts - this.dedupHorizon);
    }
    if (this.out.reading !== undefined && !this.historical) {
      const r = this.current;
      r.device = d.name;
      r.sensor = sensor;
      r.ts = ts;
      r.value = value;
      this.out.reading(r);
    }
    const watermark = s.maxTs - this.lateness;
    if (s.open[0]!.start + interval <= watermark) {
      do this.emitFirst(s);
      while (s.open.length > 0 && s.open[0]!.start + interval <= watermark);
      if (s.open.length === 0) this.pending.delete(s);
    }
    if (s.open.length > 0) {
      const close = this.closeOf(s);
      if (close < this.nextClose) this.nextClose = close;
    }
    // Retained windows are evicted by event time only: end <= watermark - correctionHorizon.
    if (advanced && s.sealedCount > 0) this.counts.retainedWindows -= evictRetained(s, watermark - this.correction, interval, this.span);
  }

  /**
   * The open window of `s` starting at `start`: existing, reopened from the retained ones, or new. `one` has
   * already looked at the newest open window, the usual answer.
   */
  private windowFor(s: SensorState, start: number): Win {
    const open = s.open;
    let i = open.length;
    if (i > 0) {
      while (i > 0 && open[i - 1]!.start > start) i--;
      if (i > 0 && open[i - 1]!.start === start) return open[i - 1]!;
    } else {
      this.pending.add(s);
      s.pendingAt = ++this.pendingClock;
    }
    let w = start <= s.sealedMaxStart ? takeRetained(s, start, this.interval, this.span) : undefined;
    if (w !== undefined) this.counts.retainedWindows--;
    else if (s.spare !== null) {
      w = s.spare.reset(start);
      s.spare = null;
    } else w = new Win(start, 0);
    if (i === open.length) open.push(w);
    else open.splice(i, 0, w);
    this.counts.openWindows++;
    return w;
  }

  /** When `tick` closes the oldest open window of `s` (it has one): max(its end, the latest arrival) + lateness. */
  private closeOf(s: SensorState): number {
    const end = s.open[0]!.start + this.interval;
    return (end > s.lastArrival ? end : s.lastArrival) + this.lateness;
  }

  /** Emits the oldest open window of `s` and retains it for corrections. The caller updates `pending`. */
  private emitFirst(s: SensorState): void {
    const w = s.open.shift()!;
    this.counts.openWindows--;
    const point = w.point(s.device, s.sensor);
    w.rev++;
    retain(s, w, this.interval, this.span);
    s.spare = w;
    this.counts.retainedWindows++;
    this.out.window(point);
  }
}

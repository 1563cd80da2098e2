import { ByteWriter } from '../persist/byte-codec.js';
import { writeDevice, writeHeader, writePending } from './snapshot-binary.js';
import { DeviceState, SensorState } from './state.js';
import { Win } from './window.js';

/** `sizeHint`: the previous snapshot's size, so the buffer rarely grows. */
export function encodeSnapshot(intervalMs: number, devices: Map<string, DeviceState>, pending: Set<SensorState>, sizeHint = 0): Buffer {
  return new SnapshotCapture(intervalMs, devices, pending, sizeHint).finish();
}

/** A snapshot being captured (Pipeline.beginSnapshot). */
export interface PipelineCapture {
  /** Writes up to `maxDevices` more devices; true when only `finish` is left. */
  step(maxDevices: number): boolean;
  /** Writes the rest: the snapshot of the state when the capture began. */
  finish(): Buffer;
  /** Drops the capture; nothing more is written. */
  abort(): void;
}

/** Bytes of state copies a capture may hold at once by default (see SnapshotCapture). */
export const COPY_BUDGET = 32 * 1024 * 1024;

/** Distinguishes captures: a device whose `snapEpoch` equals a capture's epoch is written (or excluded) already. */
let lastEpoch = 0;

/** A new capture epoch (this one and the incremental capture of snapshot-rows.ts share the counter). */
export const nextEpoch = (): number => ++lastEpoch;

/**
 * A snapshot written a few devices at a time while the pipeline keeps running, yet exactly the state at the
 * moment it began (copy-on-write at device granularity): before the pipeline changes a device the capture has
 * not written yet, it calls `preserve(d)`, which copies the device as it still is (a few array copies) to be
 * written by a later step. The steps write those copies, then walk the others in map order; devices created
 * after the start are marked excluded (`exclude`) and never written.
 *
 * Why: written in one go, a checkpoint paused ingest for the whole encoding (~30 ms at 3k sensors with 15m
 * dedup horizons, ~0.3 s at 100k sensors), which set the alert latency's p99 (BENCHMARKS.md). Writing a device
 * inside `preserve` instead of copying it moved most of that work back onto the publishes right after the start
 * (a busy gateway touches every device within ~100 ms), ~6x the cost of the copy. Copies are held up to
 * COPY_BUDGET bytes; past it a device is written in place, so a capture never holds a second copy of a large
 * state. Devices appear in the file in the order they were written, which restore does not depend on (map
 * order of devices decides nothing; sensors keep their order within a device, pending sensors theirs).
 */
export class SnapshotCapture implements PipelineCapture {
  readonly epoch = nextEpoch();
  private readonly w: ByteWriter;
  private readonly walk: Iterator<DeviceState>;
  /** Devices of the start not yet visited by the walk (devices are never removed from the map). */
  private left: number;
  /** The pending sensors at the start, in order: the set itself changes while the capture runs. */
  private readonly pending: SensorState[];
  /** Copies made by `preserve`, not written yet, and their approximate size. */
  private copies: DeviceState[] = [];
  private copied = 0;
  private copyBytes = 0;

  /** `onEnd(bytes)`: the capture finished (bytes > 0) or was aborted (0). */
  constructor(
    intervalMs: number,
    devices: Map<string, DeviceState>,
    pending: Set<SensorState>,
    sizeHint = 0,
    private readonly onEnd: (bytes: number) => void = () => {},
    private readonly copyBudget = COPY_BUDGET,
  ) {
    this.w = new ByteWriter(sizeHint * 1.1 + 65_536);
    writeHeader(this.w, intervalMs, devices.size);
    this.left = devices.size;
    this.walk = devices.values();
    this.pending = Array.from(pending);
  }

  /** Call before changing `d` while the capture runs: keeps it as it is now, unless done or excluded already. */
  preserve(d: DeviceState): void {
    if (d.snapEpoch === this.epoch) return;
    d.snapEpoch = this.epoch;
    if (this.copyBytes < this.copyBudget) {
      const c = copyDevice(d);
      this.copies.push(c.device);
      this.copyBytes += c.bytes;
    } else writeDevice(this.w, d);
  }

  /** A device created after the start: not part of this snapshot. */
  exclude(d: DeviceState): void {
    d.snapEpoch = this.epoch;
  }

  /** Writes up to `maxDevices` more devices (copies first, then the walk); true when all are written. */
  step(maxDevices: number): boolean {
    let k = 0;
    for (; k < maxDevices && this.copied < this.copies.length; k++) writeDevice(this.w, this.copies[this.copied++]!);
    if (this.copied === this.copies.length && this.copied > 0) {
      this.copies = [];
      this.copied = 0;
      this.copyBytes = 0;
    }
    for (; k < maxDevices && this.left > 0; k++) {
      this.left--;
      const d = this.walk.next().value as DeviceState;
      if (d.snapEpoch === this.epoch) continue;
      d.snapEpoch = this.epoch;
      writeDevice(this.w, d);
    }
    return this.left === 0 && this.copies.length === 0;
  }

  finish(): Buffer {
    let bytes = 0;
    try {
      this.step(Infinity);
      writePending(this.w, this.pending);
      const snap = this.w.finish();
      bytes = snap.length;
      return snap;
    } finally {
      this.onEnd(bytes);
    }
  }

  abort(): void {
    this.onEnd(0);
  }
}

/** A copy of `d` that later changes to `d` do not reach, and roughly how many bytes it holds. */
export function copyDevice(d: DeviceState): { device: DeviceState; bytes: number } {
  const c = new DeviceState(d.name);
  c.seqMaxTs = d.seqMaxTs;
  let bytes = 64;
  if (d.seqs !== null) {
    c.seqs = new Map(d.seqs);
    bytes += d.seqs.size * 40;
  }
  for (const s of d.sensors.values()) {
    const x = new SensorState(s.device, s.sensor);
    x.maxTs = s.maxTs;
    x.lastArrival = s.lastArrival;
    x.runs = s.runs.slice();
    x.seen = s.seen.slice();
    x.seenHead = s.seenHead;
    x.seenCount = s.seenCount;
    x.open = s.open.map(copyWin);
    x.sealed = Buffer.from(s.sealed.subarray(0, s.sealedBytes));
    x.sealedBytes = s.sealedBytes;
    x.sealedCount = s.sealedCount;
    x.sealedFirstStart = s.sealedFirstStart;
    x.sealedMaxStart = s.sealedMaxStart;
    x.chunks = s.chunks;
    x.tailAt = s.tailAt;
    x.tailStart = s.tailStart;
    x.pendingAt = s.pendingAt;
    c.sensors.set(s.sensor, x);
    bytes += 160 + (x.runs.length + x.seen.length) * 8 + x.sealedBytes + x.open.length * 120;
  }
  return { device: c, bytes };
}

function copyWin(w: Win): Win {
  const c = new Win(w.start, w.rev);
  c.count = w.count;
  c.min = w.min;
  c.max = w.max;
  c.firstTs = w.firstTs;
  c.first = w.first;
  c.lastTs = w.lastTs;
  c.last = w.last;
  c.partials = w.partials.slice();
  c.big = w.big === null ? null : w.big.slice();
  return c;
}

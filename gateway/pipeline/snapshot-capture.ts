import { ByteWriter } from './byte-codec.js';
import { writeDevice, writeHeader, writePending } from './snapshot-binary.js';
import type { DeviceState, SensorState } from './state.js';

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

/** Distinguishes captures: a device whose `snapEpoch` equals a capture's epoch is written (or excluded) already. */
let lastEpoch = 0;

/**
 * A snapshot written a few devices at a time while the pipeline keeps running, yet exactly the state at the
 * moment it began (copy-on-write at device granularity): before the pipeline changes a device the capture has
 * not written yet, it calls `preserve(d)`, which writes the device as it still is. The walk (`step`) writes the
 * others in map order; devices created after the start are marked excluded (`exclude`) and never written.
 *
 * Why: written in one go, a checkpoint paused ingest for the whole encoding (~30 ms at 3k sensors with 15m
 * dedup horizons, ~0.3 s at 100k sensors), which set the alert latency's p99 (BENCHMARKS.md). Devices then
 * appear in the file in the order they were written, which restore does not depend on (map order of devices
 * decides nothing; sensors keep their order within a device, pending sensors theirs).
 */
export class SnapshotCapture implements PipelineCapture {
  readonly epoch = ++lastEpoch;
  private readonly w: ByteWriter;
  private readonly walk: Iterator<DeviceState>;
  /** Devices of the start not yet visited by the walk (devices are never removed from the map). */
  private left: number;
  /** The pending sensors at the start, in order: the set itself changes while the capture runs. */
  private readonly pending: SensorState[];

  /** `onEnd(bytes)`: the capture finished (bytes > 0) or was aborted (0). */
  constructor(
    intervalMs: number,
    devices: Map<string, DeviceState>,
    pending: Set<SensorState>,
    sizeHint = 0,
    private readonly onEnd: (bytes: number) => void = () => {},
  ) {
    this.w = new ByteWriter(sizeHint * 1.1 + 65_536);
    writeHeader(this.w, intervalMs, devices.size);
    this.left = devices.size;
    this.walk = devices.values();
    this.pending = Array.from(pending);
  }

  /** Call before changing `d` while the capture runs: writes it now unless written or excluded already. */
  preserve(d: DeviceState): void {
    if (d.snapEpoch === this.epoch) return;
    d.snapEpoch = this.epoch;
    writeDevice(this.w, d);
  }

  /** A device created after the start: not part of this snapshot. */
  exclude(d: DeviceState): void {
    d.snapEpoch = this.epoch;
  }

  /** Visits up to `maxDevices` more devices of the start; true when all are written. */
  step(maxDevices: number): boolean {
    for (let k = 0; k < maxDevices && this.left > 0; k++) {
      this.left--;
      this.preserve(this.walk.next().value as DeviceState);
    }
    return this.left === 0;
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

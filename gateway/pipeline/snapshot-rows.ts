import type { ByteReader } from '../persist/byte-codec.js';
import { FORMATS } from '../persist/formats.js';
import { readBlob } from '../persist/frame.js';
import { RowCapture, unpackRows, type RowBatch } from '../persist/rows.js';
import { readDevice, withOpenWindows } from './snapshot-binary-read.js';
import { writeDevice } from './snapshot-binary.js';
import { COPY_BUDGET, copyDevice, nextEpoch } from './snapshot-capture.js';
import { PipelineSnapshotError } from './snapshot-error.js';
import type { DeviceState, SensorState } from './state.js';

/**
 * The pipeline's part of an incremental checkpoint: one row per device (key: the device name), written only for
 * the devices that changed since the last checkpoint; the part's state is every row (docs/durability.md).
 *
 * Row value (FORMATS.pipelineRow, CRC-32 at the end, persist/rows.ts):
 *   pending:uvar  per sensor of the device with open windows:  sensor:str  pendingAt:num
 *   the device exactly as a whole snapshot writes it (snapshot-binary.ts writeDevice)
 * The head (the checkpoint row's pipeline column) is a whole snapshot of no device: it carries the interval.
 * pendingAt (SensorState) orders the pending sensors across rows: the restored pending set is the same
 * sequence `tick` would have visited.
 */
export interface PipelineDelta {
  /** True when the rows replace every row of the part (the first checkpoint after a start). */
  readonly full: boolean;
  /** Writes up to `maxDevices` more rows; true when only `finish` is left. */
  step(maxDevices: number): boolean;
  /** The rest, and the rows: the state of the changed devices when the capture began. */
  finish(): RowBatch;
  /**
   * Drops the capture (before finish), or gives its devices back after a failed save (after finish): they are
   * written again by the next capture.
   */
  abort(): void;
}

/**
 * A capture of the devices changed in one dirty generation (Pipeline.beginDelta): `list` holds them, each
 * once; it is written a few rows at a time while ingest goes on, yet it is the state when it began, by the same
 * copy-on-write as the whole snapshot (snapshot-capture.ts): before the pipeline changes a member not written
 * yet, `preserve` copies it. A member is a device whose dirtyMark is the capture's generation (any generation
 * up to it, for a full capture); a device changed after the start is marked with a later generation.
 */
export class DeltaCapture extends RowCapture<{ list: readonly DeviceState[]; full: boolean }> implements PipelineDelta {
  readonly epoch = nextEpoch();
  private next = 0;
  private copies: DeviceState[] = [];
  private copied = 0;
  private copyBytes = 0;

  /** `onEnd(failed)`: finished (null) or aborted, with the devices to mark dirty again (and whether it was full). */
  constructor(
    private readonly list: readonly DeviceState[],
    private readonly generation: number,
    readonly full: boolean,
    sizeHint: number,
    onEnd: (bytes: number, requeue: { list: readonly DeviceState[]; full: boolean } | null) => void,
    private readonly copyBudget = COPY_BUDGET,
  ) {
    super(sizeHint, onEnd);
  }

  private member(d: DeviceState): boolean {
    return this.full ? d.dirtyMark <= this.generation : d.dirtyMark === this.generation;
  }

  /** Call before changing `d` while the capture runs (Pipeline.touch). */
  preserve(d: DeviceState): void {
    if (d.snapEpoch === this.epoch || !this.member(d)) return;
    d.snapEpoch = this.epoch;
    if (this.copyBytes < this.copyBudget) {
      const c = copyDevice(d);
      this.copies.push(c.device);
      this.copyBytes += c.bytes;
    } else this.write(d);
  }

  /** A device created after the start: never a member (its dirty generation is a later one). */
  exclude(): void {}

  step(maxDevices: number): boolean {
    let k = 0;
    for (; k < maxDevices && this.copied < this.copies.length; k++) this.write(this.copies[this.copied++]!);
    if (this.copied === this.copies.length && this.copied > 0) {
      this.copies = [];
      this.copied = 0;
      this.copyBytes = 0;
    }
    const list = this.list;
    for (; k < maxDevices && this.next < list.length; k++) {
      const d = list[this.next++]!;
      if (d.snapEpoch === this.epoch) continue;
      d.snapEpoch = this.epoch;
      this.write(d);
    }
    return this.next === list.length && this.copies.length === 0;
  }

  protected requeue(): { list: readonly DeviceState[]; full: boolean } {
    return { list: this.list, full: this.full };
  }

  private write(d: DeviceState): void {
    const rows = this.rows;
    rows.begin(d.name, FORMATS.pipelineRow);
    const w = rows.w;
    let n = 0;
    for (const s of d.sensors.values()) if (s.open.length > 0) n++;
    w.uvar(n);
    if (n > 0)
      for (const s of d.sensors.values()) {
        if (s.open.length === 0) continue;
        w.str(s.sensor);
        w.num(s.pendingAt);
      }
    writeDevice(w, d);
    rows.end();
  }
}

const fail = (why: string): never => {
  throw new PipelineSnapshotError(`pipeline snapshot rejected: ${why}`);
};

/**
 * The state of a part kept as rows (persist/rows.ts packRows of the head and every row), as
 * decodeSnapshot gives it for a whole snapshot: the same checks, every row's CRC, and the pending sensors in
 * ascending pendingAt.
 */
export function decodeRows(
  bytes: Uint8Array,
  intervalMs: number,
  decodeWhole: (b: Uint8Array, intervalMs: number) => { devices: Map<string, DeviceState> },
): { devices: Map<string, DeviceState>; pending: Set<SensorState> } {
  let parts: { head: Uint8Array; rows: Uint8Array[] };
  try {
    parts = unpackRows(bytes);
  } catch (err) {
    throw new PipelineSnapshotError(`pipeline snapshot rejected: ${(err as Error).message}`, { cause: err });
  }
  // The head is a whole snapshot of no device: it checks the interval.
  if (decodeWhole(parts.head, intervalMs).devices.size !== 0) fail('the head of a row checkpoint holds devices');
  const devices = new Map<string, DeviceState>();
  const order: { at: number; s: SensorState }[] = [];
  let withOpen = 0;
  for (const row of parts.rows) {
    try {
      readBlob(row, FORMATS.pipelineRow, (r) => {
        withOpen += readRow(r, devices, order, intervalMs);
      });
    } catch (err) {
      if (err instanceof PipelineSnapshotError) throw err;
      throw new PipelineSnapshotError(`pipeline snapshot rejected: ${(err as Error).message}`, { cause: err });
    }
  }
  order.sort((a, b) => a.at - b.at);
  const pending = new Set<SensorState>();
  for (let i = 0; i < order.length; i++) {
    if (i > 0 && order[i - 1]!.at === order[i]!.at) fail('bad pending order');
    pending.add(order[i]!.s);
  }
  if (pending.size !== withOpen) fail('a sensor has open windows but is not pending');
  return { devices, pending };
}

function readRow(r: ByteReader, devices: Map<string, DeviceState>, order: { at: number; s: SensorState }[], intervalMs: number): number {
  const n = r.count(2);
  const names: { sensor: string; at: number }[] = [];
  for (let i = 0; i < n; i++) names.push({ sensor: r.str(), at: r.num() });
  const d = readDevice(r, devices, intervalMs);
  const withOpen = withOpenWindows(d);
  for (const { sensor, at } of names) {
    const s = d.sensors.get(sensor);
    if (s === undefined || s.open.length === 0 || !Number.isSafeInteger(at) || at <= 0) fail('bad pending list');
    s!.pendingAt = at;
    order.push({ at, s: s! });
  }
  if (names.length !== withOpen) fail('a sensor has open windows but is not pending');
  return withOpen;
}

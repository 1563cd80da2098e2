import type { ByteWriter } from '../persist/byte-codec.js';
import { FORMATS } from '../persist/formats.js';
import { RowCapture, type RowBatch } from '../persist/rows.js';
import { type ChunkSpan, eachChunk, NO_CHUNKS, tailOf } from './retained-chunks.js';
import { N, writeDevice } from './snapshot-binary.js';
import { COPY_BUDGET, copyDevice, nextEpoch } from './snapshot-capture.js';
import type { DeviceState, SensorState } from './state.js';

/**
 * The pipeline's part of an incremental checkpoint (docs/durability.md): a row per device (key: the device name)
 * and a row per chunk of its sensors' retained windows before their tails (key: device NUL chunk number;
 * retained-chunks.ts: a device's sensors share their chunk boundaries), written only for the devices that
 * changed since the last checkpoint, and of those only the chunks marked changed; the part's state is every row. So a checkpoint writes what changes at every
 * reading (dedup keys, open windows, the newest retained windows) and not the ~90 retained windows per sensor
 * of the 15m correction horizon, which are written once per chunk.
 *
 * Device row (FORMATS.pipelineRow, CRC-32 at the end, persist/rows.ts):
 *   pending:uvar  per sensor of the device with open windows:  sensor:str  pendingAt:num
 *   the device as a whole snapshot writes it (snapshot-binary.ts writeDevice) but for each sensor's `sealed`:
 *     n:uvar (every retained window of the sensor) [firstStart:num  tailStart:num  bytes:uvar  the tail's records]
 * Chunk row (FORMATS.pipelineChunk): device:str  n:uvar  n x (sensor:str  firstStart:num  bytes:uvar  the
 *   sensor's records of the chunk, as they are in memory; the first one's start is firstStart).
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
export interface DeltaRequeue {
  readonly list: readonly DeviceState[];
  readonly full: boolean;
  /** The chunk marks the capture took off live sensors: given back with the devices. */
  readonly taken: readonly { s: SensorState; ids: number[] }[];
}

export class DeltaCapture extends RowCapture<DeltaRequeue> implements PipelineDelta {
  readonly epoch = nextEpoch();
  private next = 0;
  private copies: DeviceState[] = [];
  private copied = 0;
  private copyBytes = 0;
  private readonly taken: { s: SensorState; ids: number[] }[] = [];
  /** Scratch of write(): the chunk ids marked on the device's sensors. */
  private readonly marked: number[] = [];

  /** `onEnd(failed)`: finished (null) or aborted, with the devices to mark dirty again (and whether it was full). */
  constructor(
    private readonly list: readonly DeviceState[],
    private readonly generation: number,
    readonly full: boolean,
    private readonly span: ChunkSpan,
    private readonly intervalMs: number,
    sizeHint: number,
    onEnd: (bytes: number, requeue: DeltaRequeue | null) => void,
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
      // The marks so far belong to this capture (the copy has them); later changes mark the live sensor afresh.
      for (const s of d.sensors.values()) this.take(s);
    } else this.write(d, true);
  }

  /** A device created after the start: never a member (its dirty generation is a later one). */
  exclude(): void {}

  step(maxDevices: number): boolean {
    let k = 0;
    for (; k < maxDevices && this.copied < this.copies.length; k++) this.write(this.copies[this.copied++]!, false);
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
      this.write(d, true);
    }
    return this.next === list.length && this.copies.length === 0;
  }

  protected requeue(): DeltaRequeue {
    return { list: this.list, full: this.full, taken: this.taken };
  }

  /** Takes the chunk marks off a live sensor (kept for a requeue). */
  private take(s: SensorState): number[] {
    const ids = s.chunks;
    if (ids === NO_CHUNKS) return ids;
    s.chunks = NO_CHUNKS;
    this.taken.push({ s, ids });
    return ids;
  }

  /** The device's row and its sensors' marked chunks (every chunk, for a full capture); `live`: not a copy. */
  private write(d: DeviceState, live: boolean): void {
    const rows = this.rows;
    for (const s of d.sensors.values()) tailOf(s, this.span, this.intervalMs);
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
    writeDevice(w, d, writeTail);
    rows.end();
    const marked = this.marked;
    marked.length = 0;
    for (const s of d.sensors.values()) {
      const ids = live ? this.take(s) : s.chunks;
      for (let k = 0; k < ids.length; k++) if (!marked.includes(ids[k]!)) marked.push(ids[k]!);
    }
    if (this.full) this.chunks(d, null);
    else if (marked.length > 0)
      this.chunks(
        d,
        marked.sort((a, b) => a - b),
      );
  }

  /**
   * The device's chunk rows `ids` (null: all of them, no deletes): chunk k of every sensor that holds windows in
   * it before its tail, in one row; a chunk no sensor holds is deleted.
   */
  private chunks(d: DeviceState, ids: number[] | null): void {
    const rows = this.rows;
    const found = new Map<number, { s: SensorState; from: number; to: number; first: number }[]>();
    for (const s of d.sensors.values())
      eachChunk(s, this.span, this.intervalMs, ids, (id, from, to, first) => {
        const list = found.get(id);
        if (list === undefined) found.set(id, [{ s, from, to, first }]);
        else list.push({ s, from, to, first });
      });
    for (const id of [...found.keys()].sort((a, b) => a - b)) {
      const list = found.get(id)!;
      rows.begin(chunkKey(d, id), FORMATS.pipelineChunk);
      const w = rows.w;
      w.str(d.name);
      w.uvar(list.length);
      for (const { s, from, to, first } of list) {
        w.str(s.sensor);
        N[0] = first;
        w.numAt(N, 0);
        w.uvar(to - from);
        w.bytes(s.sealed, from, to);
      }
      rows.end();
    }
    if (ids === null) return;
    // No sensor holds windows in it before its tail (evicted, taken out, or the tail now): the row goes.
    for (const id of ids)
      if (!found.has(id)) {
        rows.begin(chunkKey(d, id));
        rows.end(true);
      }
  }
}

const chunkKey = (d: DeviceState, id: number): string => `${d.name}\u0000${id}`;

/** A device row's `sealed` field: the count, the first start and the tail's records (tailOf was called). */
function writeTail(w: ByteWriter, s: SensorState): void {
  w.uvar(s.sealedCount);
  if (s.sealedCount === 0) return;
  N[0] = s.sealedFirstStart;
  N[1] = s.tailStart;
  w.numAt(N, 0);
  w.numAt(N, 1);
  w.uvar(s.sealedBytes - s.tailAt);
  w.bytes(s.sealed, s.tailAt, s.sealedBytes);
}

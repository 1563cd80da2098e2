import { type ChunkSpan, mark } from './retained-chunks.js';
import { DeltaCapture, type PipelineCapture, type PipelineDelta, SnapshotCapture } from './snapshot.js';
import type { DeltaRequeue } from './snapshot-rows.js';
import type { DeviceState, SensorState } from './state.js';

/**
 * The pipeline's one capture slot (a whole snapshot, snapshot-capture.ts, or an incremental checkpoint's delta,
 * snapshot-rows.ts) and the devices changed since the last delta began. The pipeline calls `touch(d)` before
 * every change to a device (copy-on-write for a capture in progress, and the device joins this generation's
 * dirty list, once) and `created(d)` for a new one.
 *
 * Generations: a delta takes the dirty list of the current generation and starts the next; a device's
 * `dirtyMark` is the generation it last changed in. A delta that fails to save gives its devices back
 * (`requeue`); a full one (the first after a start, unless the state was restored from the store's rows) is
 * taken again.
 */
export class Captures {
  private capture: SnapshotCapture | DeltaCapture | null = null;
  /** Sizes of the last snapshot and delta: the next one starts with a buffer that fits. */
  private snapshotBytes = 0;
  private deltaBytes = 0;
  private dirty: DeviceState[] = [];
  private generation = 1;

  /** `needFull`: the next delta replaces every row (false when the state was restored from the store's rows). */
  constructor(
    private readonly intervalMs: number,
    private readonly devices: Map<string, DeviceState>,
    private readonly pending: Set<SensorState>,
    private readonly span: ChunkSpan,
    private needFull = true,
  ) {}

  /** Hot path: before any change to `d`. */
  touch(d: DeviceState): void {
    if (this.capture !== null) this.capture.preserve(d);
    if (d.dirtyMark !== this.generation) {
      d.dirtyMark = this.generation;
      this.dirty.push(d);
    }
  }

  /** A device just added to the map. */
  created(d: DeviceState): void {
    this.capture?.exclude(d);
    d.dirtyMark = this.generation;
    this.dirty.push(d);
  }

  beginSnapshot(copyBudget?: number): PipelineCapture {
    if (this.capture !== null) throw new Error('a pipeline snapshot is already being captured');
    const c: SnapshotCapture = new SnapshotCapture(
      this.intervalMs,
      this.devices,
      this.pending,
      this.snapshotBytes,
      (bytes) => {
        if (this.capture === c) this.capture = null;
        if (bytes > 0) this.snapshotBytes = bytes;
      },
      copyBudget,
    );
    return (this.capture = c);
  }

  beginDelta(copyBudget?: number): PipelineDelta {
    if (this.capture !== null) throw new Error('a pipeline snapshot is already being captured');
    const full = this.needFull;
    this.needFull = false;
    const list = full ? Array.from(this.devices.values()) : this.dirty;
    const generation = this.generation++;
    this.dirty = [];
    const c: DeltaCapture = new DeltaCapture(
      list,
      generation,
      full,
      this.span,
      this.intervalMs,
      this.deltaBytes,
      (bytes, requeue) => {
        if (this.capture === c) this.capture = null;
        if (bytes > 0) this.deltaBytes = bytes;
        if (requeue !== null) this.requeue(requeue);
      },
      copyBudget,
    );
    return (this.capture = c);
  }

  /**
   * The devices of a delta that was not saved: the next delta writes them again (all, when it was full), and
   * the chunks it took the marks of.
   */
  private requeue({ list, full, taken }: DeltaRequeue): void {
    if (full) {
      this.needFull = true;
      return;
    }
    for (const { s, ids } of taken) for (const id of ids) mark(s, id, this.span);
    for (const d of list) {
      if (d.dirtyMark === this.generation) continue;
      d.dirtyMark = this.generation;
      this.dirty.push(d);
    }
  }
}

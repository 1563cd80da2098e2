import { decodeSnapshot } from './snapshot-binary-read.js';
import { encodeSnapshot } from './snapshot-capture.js';
import { decodeRows } from './snapshot-rows-read.js';
import { isRows } from '../persist/rows.js';
import type { DeviceState, SensorState } from './state.js';

export { type PipelineCapture, SnapshotCapture } from './snapshot-capture.js';
export { PipelineSnapshotError } from './snapshot-error.js';
export { DeltaCapture, type PipelineDelta } from './snapshot-rows.js';

/**
 * The pipeline's whole state, for graceful restart and crash replay: restoring it and continuing emits exactly
 * what an uninterrupted run would. Orders matter and are kept: sensors in map order, pending sensors in the
 * order `tick` visits them (the order of devices decides nothing; a capture may write them out of map order).
 * Bytes of FORMATS.pipelineSnapshot (layout in snapshot-binary.ts): compact, built outside the V8 heap, every
 * double bit-exact.
 */
export type PipelineSnapshot = Uint8Array;

/** `sizeHint`: the previous snapshot's byte length (saves regrowing the buffer). */
export function takeSnapshot(intervalMs: number, devices: Map<string, DeviceState>, pending: Set<SensorState>, sizeHint?: number): Buffer {
  return encodeSnapshot(intervalMs, devices, pending, sizeHint);
}

/**
 * Rebuilds the state from a whole snapshot or from a part kept as rows (snapshot-rows.ts, as a store's load()
 * packs it); throws PipelineSnapshotError when it is malformed or for another interval.
 */
export function restoreSnapshot(snap: PipelineSnapshot, intervalMs: number): { devices: Map<string, DeviceState>; pending: Set<SensorState> } {
  return isRows(snap) ? decodeRows(snap, intervalMs, decodeSnapshot) : decodeSnapshot(snap, intervalMs);
}

import { decodeSnapshot } from './snapshot-binary-read.js';
import { isBinarySnapshot } from './snapshot-binary.js';
import { encodeSnapshot } from './snapshot-capture.js';

export { type PipelineCapture, SnapshotCapture } from './snapshot-capture.js';
import { PipelineSnapshotError } from './snapshot-error.js';
import { type JsonPipelineSnapshot, restoreJsonSnapshot } from './snapshot-json.js';
import type { DeviceState, SensorState } from './state.js';

export { PipelineSnapshotError } from './snapshot-error.js';
export type { DeviceSnapshot, JsonPipelineSnapshot, SensorSnapshot } from './snapshot-json.js';

/**
 * The pipeline's whole state, for graceful restart and crash replay: restoring it and continuing emits exactly
 * what an uninterrupted run would. Orders matter and are kept: sensors in map order, pending sensors in the
 * order `tick` visits them (the order of devices decides nothing; a capture may write them out of map order).
 *
 * Written as version 3, a Buffer (snapshot-binary.ts): compact, built outside the V8 heap, every double
 * bit-exact. Versions 1 and 2 (JSON values, snapshot-json.ts) are what older gateways left in state.db; they
 * still restore.
 */
export type PipelineSnapshot = Uint8Array | JsonPipelineSnapshot;

/** Version 3. `sizeHint`: the previous snapshot's byte length (saves regrowing the buffer). */
export function takeSnapshot(intervalMs: number, devices: Map<string, DeviceState>, pending: Set<SensorState>, sizeHint?: number): Buffer {
  return encodeSnapshot(intervalMs, devices, pending, sizeHint);
}

/** Rebuilds the state from any version; throws PipelineSnapshotError when it is malformed or for another interval. */
export function restoreSnapshot(snap: PipelineSnapshot, intervalMs: number): { devices: Map<string, DeviceState>; pending: Set<SensorState> } {
  if (isBinarySnapshot(snap)) return decodeSnapshot(snap, intervalMs);
  if (snap === null || typeof snap !== 'object') throw new PipelineSnapshotError('pipeline snapshot rejected: neither a Buffer nor a JSON snapshot');
  return restoreJsonSnapshot(snap, intervalMs);
}

import type { JsonPipelineSnapshot, PipelineSnapshot } from '../../../gateway/pipeline/pipeline.js';
import { restoreSnapshot } from '../../../gateway/pipeline/snapshot.js';
import { takeJsonSnapshot } from '../../../gateway/pipeline/snapshot-json.js';

/**
 * The same state as a version 2 (or 1) JSON snapshot, as an older gateway would have stored it, through JSON
 * text: for tests of the restore path of old state.db files.
 */
export function jsonSnapshotOf(snap: PipelineSnapshot, intervalMs: number): JsonPipelineSnapshot {
  const { devices, pending } = restoreSnapshot(snap, intervalMs);
  return JSON.parse(JSON.stringify(takeJsonSnapshot(intervalMs, devices, pending))) as JsonPipelineSnapshot;
}

/** A copy of a version 3 snapshot, as the store gives it back (not sharing memory with the original). */
export const copyOf = (b: Uint8Array): Buffer => Buffer.from(b);

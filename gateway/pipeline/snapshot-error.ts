/** A pipeline snapshot that cannot be restored: malformed, truncated, corrupted, or taken under another interval. */
export class PipelineSnapshotError extends Error {
  override readonly name = 'PipelineSnapshotError';
}

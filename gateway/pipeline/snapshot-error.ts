import { GatewayError } from '../errors.js';

/** A pipeline snapshot that cannot be restored: malformed, truncated, corrupted, or taken under another interval. */
export class PipelineSnapshotError extends GatewayError {
  override readonly name = 'PipelineSnapshotError';
  override readonly code = 'GATEWAY_PIPELINE_SNAPSHOT';
  constructor(message: string, options?: ErrorOptions) {
    super('GATEWAY_PIPELINE_SNAPSHOT', message, options);
  }
}

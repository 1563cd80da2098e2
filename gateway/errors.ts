/**
 * Every error the gateway defines, with its code, in one place (as fastify's lib/errors.js): what it means and
 * what the gateway does about it. A class extends GatewayError with its code; callers test `err.code`, or
 * `instanceof` the class. (InfluxDB write errors live with their HTTP client in sink/errors.ts: retryable or
 * permanent by the server's answer.)
 */
export const ERRORS = {
  GATEWAY_CONFIG_INVALID: 'the config file or an environment override is invalid; the gateway does not start (exit code 2)',
  GATEWAY_DEVICES_INVALID: 'the devices file is unusable at start; reported like a config error (exit code 2)',
  GATEWAY_REGISTRY_EDIT: 'a device registry edit cannot be applied (unknown id, duplicate, invalid file); the CLI exits 1',
  GATEWAY_DATABASE_FILE: 'a SQLite file is corrupt or of an unknown schema; it is moved aside and replaced (persist/sqlite.ts)',
  GATEWAY_BYTES_MALFORMED: 'stored bytes are truncated, damaged or not what the writer produces (persist/byte-codec.ts)',
  GATEWAY_PIPELINE_SNAPSHOT: 'a pipeline snapshot cannot be restored (malformed, or taken under another interval); the pipeline starts empty',
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

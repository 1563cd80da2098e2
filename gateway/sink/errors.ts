/**
 * The sink's error catalogue. The outbox decides on the class alone: a RetryableWriteError keeps the batch
 * and retries it later, a PermanentWriteError moves it (or only its refused lines) to the dead letters.
 */
export type RetryableReason = 'unreachable' | 'network' | 'timeout' | 'server' | 'throttled' | 'auth' | 'database';

export class RetryableWriteError extends Error {
  override readonly name = 'RetryableWriteError';
  constructor(
    message: string,
    readonly reason: RetryableReason,
    /** From a Retry-After header (429/503), in ms. */
    readonly retryAfterMs?: number,
    readonly code?: string,
  ) {
    super(message);
  }

  /** True when InfluxDB could not be reached at all: worth probing with a cheap ping while backing off. */
  get unreachable(): boolean {
    return this.reason === 'unreachable';
  }
}

export class PermanentWriteError extends Error {
  override readonly name = 'PermanentWriteError';
  constructor(
    /** InfluxDB's own error text (X-Influxdb-Error), so the dead letter says why. */
    message: string,
    readonly status: number,
    /**
     * For an InfluxDB 1.x partial write (HTTP 400 "partial write: ... dropped=N"): the indexes of the refused
     * lines of the request when they could be identified; the other lines were stored. Undefined when the
     * answer does not say which lines InfluxDB dropped: then the whole batch counts as refused.
     */
    readonly refusedLines?: readonly number[],
  ) {
    super(message);
  }

  get partial(): boolean {
    return this.refusedLines !== undefined;
  }
}

export function isRetryable(err: unknown): err is RetryableWriteError {
  return err instanceof RetryableWriteError;
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const TIMEOUT = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT']);

/** A request that got no HTTP answer: unreachable (probe with ping while backing off), timed out, or cut off. */
export function networkError(err: unknown): RetryableWriteError {
  if (err instanceof RetryableWriteError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const text = e?.message ?? String(err);
  if (code && UNREACHABLE.has(code)) return new RetryableWriteError(`InfluxDB unreachable: ${text}`, 'unreachable', undefined, code);
  if (code && TIMEOUT.has(code)) return new RetryableWriteError(`InfluxDB timed out: ${text}`, 'timeout', undefined, code);
  // Anything else from the network stack (ECONNRESET, EPIPE, socket hang up, ...) is worth another try.
  return new RetryableWriteError(`InfluxDB request failed: ${text}`, 'network', undefined, code);
}

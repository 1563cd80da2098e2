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
    /** InfluxDB's own error text (1.x: X-Influxdb-Error; 2.x/3.x: the JSON body), so the dead letter says why. */
    message: string,
    readonly status: number,
    /**
     * The 0-based indexes of the refused lines of the request, when known (a partial write that names them or
     * whose refused lines could be worked out, a v2 400 naming a malformed line, a single line too large); every
     * other line was stored. Undefined when the whole request was refused, or when InfluxDB stored some lines
     * without saying which it refused: then the whole batch counts as refused.
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

/**
 * Retry delays for the outbox: exponential from `initialMs`, doubling per failed attempt up to `maxMs`, with
 * ±20% jitter so many gateways that lost the same InfluxDB do not come back in lockstep. A Retry-After from
 * the server wins (bounded by `maxRetryAfterMs` so a bogus header cannot park the outbox for a day).
 */
export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  /** While InfluxDB is unreachable, ping it this often and retry as soon as it answers. */
  readonly probeIntervalMs: number;
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 1000,
  maxMs: 60_000,
  probeIntervalMs: 1000,
  maxRetryAfterMs: 600_000,
};

/** `attempt` is 1 for the first retry. */
export function retryDelayMs(policy: BackoffPolicy, attempt: number, random: () => number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(Math.max(0, retryAfterMs), policy.maxRetryAfterMs);
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  const jittered = base * (0.8 + 0.4 * random());
  return Math.round(Math.min(policy.maxMs, jittered));
}

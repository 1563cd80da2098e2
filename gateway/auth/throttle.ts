/**
 * Slows down an address that keeps failing to authenticate: the CONNACK of each failed attempt is delayed by
 * base * 2^(failures - 1), capped at maxDelayMs (MQTT); the admin login instead refuses (429) every attempt
 * until that delay has passed since the last failure (retryAfter). Failures are forgotten `forgetAfterMs` after the last one.
 * Memory is bounded: at most `maxEntries` addresses are remembered, the least recently failing one is evicted
 * first (Map iteration order is insertion order; an update re-inserts). Pure: time is passed in.
 */
export interface ThrottleOptions {
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly forgetAfterMs?: number;
  readonly maxEntries?: number;
  /** Failures that cost nothing (a person mistyping) before the backoff starts; default 0. */
  readonly freeFailures?: number;
}

interface Entry {
  failures: number;
  lastAt: number;
}

export class FailureThrottle {
  private readonly entries = new Map<string, Entry>();
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly forgetAfterMs: number;
  readonly maxEntries: number;
  readonly freeFailures: number;

  constructor(opts: ThrottleOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 5_000;
    this.forgetAfterMs = opts.forgetAfterMs ?? 10 * 60_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.freeFailures = opts.freeFailures ?? 0;
  }

  /** Records a failure of `address` at `now` and returns how long to delay its refusal. */
  fail(address: string, now: number): number {
    let e = this.entries.get(address);
    if (e && now - e.lastAt >= this.forgetAfterMs) e = undefined;
    const failures = (e?.failures ?? 0) + 1;
    this.entries.delete(address);
    this.entries.set(address, { failures, lastAt: now });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return this.delayFor(failures);
  }

  /** How long `address` must still wait after its last failure before its next attempt is heard; 0 when free. */
  retryAfter(address: string, now: number): number {
    const e = this.entries.get(address);
    if (!e || now - e.lastAt >= this.forgetAfterMs) return 0;
    return Math.max(0, e.lastAt + this.delayFor(e.failures) - now);
  }

  /** Forgets `address` (it authenticated). */
  succeed(address: string): void {
    this.entries.delete(address);
  }

  private delayFor(allFailures: number): number {
    const failures = allFailures - this.freeFailures;
    if (failures <= 0) return 0;
    // 2^(failures-1) overflows to Infinity for huge counts; min() keeps it at the cap.
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(failures - 1, 30));
  }

  /** Failures remembered for `address` (0 when unknown or forgotten). */
  failures(address: string, now: number): number {
    const e = this.entries.get(address);
    return e && now - e.lastAt < this.forgetAfterMs ? e.failures : 0;
  }

  get size(): number {
    return this.entries.size;
  }
}

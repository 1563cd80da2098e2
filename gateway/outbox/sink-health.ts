import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { RetryableWriteError } from '../sink/errors.js';
import { retryDelayMs, type BackoffPolicy } from './backoff.js';

/**
 * The drainer's view of InfluxDB: up or not (gateway_influx_up), the failed attempts in a row and the last
 * error, and from them the wait before the next attempt (backoff.ts).
 */
export class SinkHealth {
  private attempt = 0;
  private influxUp = false;
  private lastError: string | undefined;

  constructor(
    private readonly d: {
      readonly metrics: Metrics;
      readonly log: Logger;
      readonly backoff: BackoffPolicy;
      readonly random: () => number;
    },
  ) {}

  state(): { readonly influxUp: boolean; readonly lastError: string | undefined; readonly attempt: number } {
    return { influxUp: this.influxUp, lastError: this.lastError, attempt: this.attempt };
  }

  /** InfluxDB answered: it acknowledged the request, or refused its data for good (it is up; the data is the problem). */
  answered(): void {
    this.attempt = 0;
    this.lastError = undefined;
    if (!this.influxUp) {
      this.influxUp = true;
      this.d.metrics.influxUp.set(1);
    }
  }

  /**
   * A request failed and its batches stay queued: counts them (gateway_outbox_retried_points_total), logs the
   * failure (the first and every tenth at warn) and returns how long to wait before the next attempt.
   */
  failed(err: unknown, points: number): number {
    const retryable = err instanceof RetryableWriteError ? err : undefined;
    if (!retryable) {
      // Not a sink error: a bug or a storage failure. Keep the batch and back off rather than spin.
      this.d.log.error({ err }, 'outbox send failed unexpectedly');
    }
    this.attempt++;
    this.lastError = (err as Error)?.message ?? String(err);
    if (this.influxUp || this.attempt === 1) {
      this.influxUp = false;
      this.d.metrics.influxUp.set(0);
    }
    this.d.metrics.outboxRetried.inc(points);
    const delay = retryDelayMs(this.d.backoff, this.attempt, this.d.random, retryable?.retryAfterMs);
    const logFn = this.attempt === 1 || this.attempt % 10 === 0 ? this.d.log.warn : this.d.log.debug;
    logFn.call(
      this.d.log,
      { attempt: this.attempt, delayMs: delay, points, reason: retryable?.reason, err: this.lastError },
      'InfluxDB write failed, will retry',
    );
    return delay;
  }
}

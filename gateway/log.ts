import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout (one object a line), as collectors expect. Tests pass level 'silent' or a destination. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino({ level, base: { svc: 'gateway' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}

/**
 * Logs at most `perInterval` lines per key per interval and then one summary of how many were suppressed:
 * one device sending garbage at 1 kHz must not flood the log or cost the hot path a write per message.
 */
export class RateLimitedLog {
  private readonly seen = new Map<string, { count: number; windowStart: number }>();
  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 10_000,
    private readonly perInterval = 5,
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    const t = this.now();
    let s = this.seen.get(key);
    if (!s || t - s.windowStart >= this.intervalMs) {
      if (s && s.count > this.perInterval) {
        this.log.warn({ key, suppressed: s.count - this.perInterval }, 'similar log lines suppressed');
      }
      s = { count: 0, windowStart: t };
      this.seen.set(key, s);
      if (this.seen.size > 10_000) this.seen.clear();
    }
    s.count++;
    if (s.count <= this.perInterval) this.log.warn(obj, msg);
  }
}

import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { OutboxStatus } from '../outbox/outbox.js';
import { systemTimers, type TimerHandle, type Timers } from '../time/timers.js';
import type { OutPoint } from '../sink/point.js';
import { Counter } from 'prom-client';
import { REJECT_REASONS } from '../pipeline/decode.js';
import { counterField, reasonBaselines, statsToPoints, type StatsSample } from './schema.js';

export interface StatsReporterOptions {
  readonly metrics: Metrics;
  /**
   * The outbox: its status gives the gauges, `append` takes the samples (so they survive an InfluxDB outage), `flush`
   * commits what was appended as a batch of its own.
   */
  readonly outbox: { status(): OutboxStatus; append(points: readonly OutPoint[]): void; flush(): void };
  readonly gatewayId: string;
  /** pipeline.interval: one sample per window, so the stats line up with the data they describe. */
  readonly intervalMs: number;
  readonly log: Logger;
  /** Gateway clock and timers; tests inject their own. */
  readonly timers?: Timers;
}

type Summable = { get(): Promise<{ name: string; values: readonly { value: number; labels: Record<string, string | number> }[] }> };

/**
 * Writes the gateway's counters to `gateway_stats` every interval (schema.ts). Started and stopped by the
 * composition root: `start()` writes a first sample at once (the baseline that differences need), `stop()` writes
 * a last one before the outbox closes. A failing sample is logged and skipped; it never stops the loop.
 */
export class StatsReporter {
  private readonly timers: Timers;
  private timer: TimerHandle | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private previousTime: number | undefined;
  private readonly reasonsSeen = new Set<string>();

  constructor(private readonly o: StatsReporterOptions) {
    this.timers = o.timers ?? systemTimers;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.report();
    this.schedule();
  }

  /** Stops the loop and writes a final sample; resolves once it is in the outbox. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    await this.reportOnce();
  }

  /** Reads every counter and gauge now. */
  async sample(): Promise<StatsSample> {
    const m = this.o.metrics;
    const counters: Record<string, number> = {};
    for (const metric of Object.values(m)) {
      if (!(metric instanceof Counter)) continue;
      const { name, values } = await (metric as unknown as Summable).get();
      counters[counterField(name)] = values.reduce((s, v) => s + v.value, 0);
    }
    const rejectedByReason: Record<string, number> = {};
    for (const v of (await (m.messagesRejected as unknown as Summable).get()).values) {
      const reason = String(v.labels['reason'] ?? 'unknown');
      rejectedByReason[reason] = (rejectedByReason[reason] ?? 0) + v.value;
    }
    const clients = (await (m.connectedClients as unknown as Summable).get()).values.reduce((s, v) => s + v.value, 0);
    const o = this.o.outbox.status();
    return {
      counters,
      rejectedByReason,
      gauges: {
        influx_up: o.influxUp ? 1 : 0,
        outbox_points: o.points + o.openPoints,
        outbox_bytes: o.bytes,
        outbox_oldest_age_seconds: o.oldestAgeMs / 1000,
        outbox_dead_letters: o.deadLetters,
        mqtt_clients: clients,
      },
    };
  }

  private schedule(): void {
    this.timer = this.timers.setTimeout(() => {
      if (!this.started) return;
      void this.report();
      this.schedule();
    }, this.o.intervalMs);
  }

  private report(): Promise<void> {
    // A slow sample (a busy event loop) must not pile up behind the next one.
    if (this.running) return this.running;
    this.running = this.reportOnce().finally(() => (this.running = undefined));
    return this.running;
  }

  private async reportOnce(): Promise<void> {
    try {
      const time = this.timers.now();
      const sample = await this.sample();
      const fresh = Object.keys(sample.rejectedByReason).filter((r) => !this.reasonsSeen.has(r));
      for (const r of fresh) this.reasonsSeen.add(r);
      const points = statsToPoints(sample, this.o.gatewayId, time);
      if (this.previousTime === undefined) {
        // The first sample of a process is preceded by a 0 for every known reason, committed as a batch of its own:
        // InfluxDB 3 fixes a table's tags with the first line it stores and refuses a later line with another tag
        // ("Detected a new tag ... The tag set is immutable on first write to the table", influxdb3_write
        // write_buffer/validator.rs), and the outbox reorders the lines of a batch by series, so only an earlier
        // batch puts `reason` into the first line of `gateway_stats`. True to the counters (0 at start), and a
        // baseline for non_negative_difference.
        const missing = REJECT_REASONS.filter((r) => !(r in sample.rejectedByReason));
        for (const r of REJECT_REASONS) this.reasonsSeen.add(r);
        this.o.outbox.append(reasonBaselines(missing, this.o.gatewayId, time));
        this.o.outbox.flush();
        this.o.outbox.append(points);
      } else {
        this.o.outbox.append([...reasonBaselines(fresh, this.o.gatewayId, this.previousTime), ...points]);
      }
      this.previousTime = time;
    } catch (err) {
      this.o.log.warn({ err }, 'gateway stats sample failed');
    }
  }
}

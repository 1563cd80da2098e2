import { RateLimitedLog, type Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { BatchWriter } from '../sink/influx-writer.js';
import { formatPoint } from '../sink/line-protocol.js';
import type { OutPoint } from '../sink/point.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { Batcher, type ClosedBatch } from './batcher.js';
import { Drainer } from './drainer.js';
import { groupBySeries, SERIES_BUCKETS } from './lanes.js';
import type { DeadLetter, OutboxStore } from './store.js';
import { systemTimers, type TimerHandle, type Timers } from '../time/timers.js';

export interface OutboxOptions {
  readonly store: OutboxStore;
  readonly writer: BatchWriter;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** influx.batchSize: lines per committed batch. */
  readonly batchSize: number;
  /** influx.flushInterval: longest time a point waits in the open batch. */
  readonly flushIntervalMs: number;
  /** buffer.maxBytes: line-protocol bytes waiting on disk; beyond it the oldest batches are dropped. */
  readonly maxBytes: number;
  /** Dead letters are kept up to this many bytes, oldest deleted first. Default maxBytes / 10. */
  readonly deadLetterMaxBytes?: number;
  /**
   * When a backlog drains, consecutive batches are merged into one request up to these limits: InfluxDB
   * ingests large requests faster (test/bench/outbox-micro.ts). Defaults max(batchSize, 50000) points and
   * 8 MiB, well under InfluxDB's default max-body-size of 25 MB.
   */
  readonly maxRequestPoints?: number;
  readonly maxRequestBytes?: number;
  /** Parallel requests a large request (>= minSplitPoints, i.e. a backlog) is split into by series; 1 = never. */
  readonly writeLanes?: number;
  readonly minSplitPoints?: number;
  readonly backoff?: Partial<BackoffPolicy>;
  readonly timers?: Timers;
  readonly random?: () => number;
  /** How often the gauges (notably the oldest batch's age) are refreshed. Default 5 s. */
  readonly gaugeIntervalMs?: number;
}

export interface OutboxStatus {
  readonly points: number;
  readonly bytes: number;
  readonly batches: number;
  /** Age of the oldest waiting batch on the gateway clock; 0 when empty. */
  readonly oldestAgeMs: number;
  /** Points in the open batch and the batches sealed for a checkpoint (not yet committed). */
  readonly openPoints: number;
  /** The drain loop runs and is not waiting out a retry delay. */
  readonly draining: boolean;
  /** The last InfluxDB request got an answer (success or a permanent refusal). */
  readonly influxUp: boolean;
  /** Points currently held in the dead-letter table. */
  readonly deadLetters: number;
  readonly lastError: string | undefined;
}

/**
 * Store-and-forward to InfluxDB (Telegraf's Buffer as a transaction): `append` formats points into the open
 * batch; a full or timed-out batch is committed to the store BEFORE any attempt to send it; the drainer
 * deletes it only once InfluxDB acknowledged it. Memory holds at most the open batch, the request in flight
 * and the next request read ahead while it is in flight (Drainer).
 *
 * Called from the pipeline (append, on every window emission), from the admin API (status) and from the
 * composition root (start, flush, close).
 */
export class Outbox {
  private readonly batcher: Batcher;
  private readonly drainer: Drainer;
  private readonly timers: Timers;
  private readonly rl: RateLimitedLog;
  private readonly deadLetterMaxBytes: number;
  private gaugeTimer: TimerHandle | undefined;
  private closed = false;

  constructor(private readonly o: OutboxOptions) {
    this.timers = o.timers ?? systemTimers;
    this.rl = new RateLimitedLog(o.log, 10_000, 5, () => this.timers.now());
    this.deadLetterMaxBytes = o.deadLetterMaxBytes ?? Math.floor(o.maxBytes / 10);
    this.batcher = new Batcher(o.batchSize, o.flushIntervalMs, this.timers, (b) => this.commit(b));
    this.drainer = new Drainer({
      store: o.store,
      writer: o.writer,
      metrics: o.metrics,
      log: o.log,
      timers: this.timers,
      random: o.random ?? Math.random,
      backoff: { ...DEFAULT_BACKOFF, ...o.backoff },
      maxRequestPoints: o.maxRequestPoints ?? Math.max(o.batchSize, 50_000),
      maxRequestBytes: o.maxRequestBytes ?? 8 * 1024 * 1024,
      lanes: { lanes: o.writeLanes ?? 2, minSplitPoints: o.minSplitPoints ?? 10_000 },
      onChange: (deadLettered) => this.afterDrain(deadLettered),
    });
    this.refreshGauges();
  }

  /** Starts draining (what is already on disk first) and the gauge refresh. */
  start(): void {
    if (this.closed) throw new Error('outbox is closed');
    this.drainer.start();
    this.scheduleGauges();
  }

  /** Hot path. Points InfluxDB cannot represent (no finite field) are counted as dead-lettered and logged. */
  append(points: readonly OutPoint[]): void {
    if (this.closed) throw new Error('outbox is closed');
    for (const p of points) {
      const line = formatPoint(p);
      if (line === undefined) {
        this.o.metrics.outboxDeadLettered.inc();
        this.rl.warn(
          'outbox-unwritable',
          { measurement: p.measurement, tags: p.tags, time: p.time },
          'point has no writable field (NaN/Infinity only): not sent',
        );
        continue;
      }
      this.batcher.add(line, p.time);
    }
  }

  /** Commits the open batch to disk now (graceful stop, tests). */
  flush(): void {
    this.batcher.flush();
  }

  /**
   * Closes the open batch without committing it (cheap: a periodic checkpoint's first turn); `commitSealed()`
   * commits it on a later turn, before that checkpoint is saved. Order is kept (Batcher).
   */
  seal(): void {
    this.batcher.seal();
  }

  /**
   * Commits what `seal()` closed (no-op when nothing is sealed or it was committed already); with `maxLines`, one
   * piece of at most that many lines, in order. True when nothing sealed is left.
   */
  commitSealed(maxLines?: number): boolean {
    return this.batcher.commitSealed(maxLines);
  }

  status(): OutboxStatus {
    const t = this.o.store.totals();
    const d = this.drainer.state();
    return {
      points: t.points,
      bytes: t.bytes,
      batches: t.batches,
      oldestAgeMs: t.oldestCreatedMs === undefined ? 0 : Math.max(0, this.timers.now() - t.oldestCreatedMs),
      openPoints: this.batcher.size,
      draining: d.running && !d.backingOff,
      influxUp: d.influxUp,
      deadLetters: this.o.store.deadLetterTotals().points,
      lastError: d.lastError,
    };
  }

  deadLetters(limit = 100): DeadLetter[] {
    return this.o.store.deadLetters(limit);
  }

  /** Commits the open batch, stops draining after the request in flight, closes store and writer. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.batcher.flush();
    this.closed = true;
    this.batcher.dispose();
    if (this.gaugeTimer !== undefined) this.timers.clearTimeout(this.gaugeTimer);
    await this.drainer.stop();
    this.refreshGauges();
    this.o.store.close();
    this.o.writer.close?.();
  }

  private commit(b: ClosedBatch): void {
    // Stored grouped by series so a backlog's drain splits it into lanes by byte ranges (lanes.ts).
    const { body, cuts } = groupBySeries(b.lines);
    const batch = {
      createdMs: this.timers.now(),
      points: b.lines.length,
      bytes: cuts[SERIES_BUCKETS]! - 1,
      minTime: b.minTime,
      maxTime: b.maxTime,
      body,
      cuts,
    };
    try {
      this.o.store.append(batch);
    } catch (err) {
      // Disk full or I/O error: the batch cannot be kept and memory must stay bounded, so it is lost; say so.
      this.o.metrics.outboxDropped.inc(batch.points);
      this.o.log.error(
        { err, points: batch.points, from: iso(batch.minTime), to: iso(batch.maxTime) },
        'could not commit a batch to the outbox: points dropped',
      );
      return;
    }
    this.enforceCap();
    this.refreshGauges();
    this.drainer.notify();
  }

  private enforceCap(): void {
    const dropped = this.o.store.dropOldest(this.o.maxBytes, this.drainer.state().protectedUpToId);
    if (!dropped) return;
    this.o.metrics.outboxDropped.inc(dropped.points);
    this.o.log.error(
      {
        batches: dropped.batches,
        points: dropped.points,
        bytes: dropped.bytes,
        from: iso(dropped.minTime),
        to: iso(dropped.maxTime),
        maxBytes: this.o.maxBytes,
      },
      'outbox full (buffer.maxBytes): dropped the oldest points',
    );
  }

  private afterDrain(deadLettered: boolean): void {
    const trimmed = deadLettered ? this.o.store.trimDeadLetters(this.deadLetterMaxBytes) : 0;
    if (trimmed > 0) this.o.log.warn({ letters: trimmed }, 'dead-letter table full: deleted the oldest dead letters');
    this.refreshGauges();
  }

  private refreshGauges(): void {
    const t = this.o.store.totals();
    const m = this.o.metrics;
    m.outboxPoints.set(t.points);
    m.outboxBytes.set(t.bytes);
    m.outboxOldestAge.set(t.oldestCreatedMs === undefined ? 0 : Math.max(0, this.timers.now() - t.oldestCreatedMs) / 1000);
  }

  private scheduleGauges(): void {
    this.gaugeTimer = this.timers.setTimeout(() => {
      if (this.closed) return;
      this.refreshGauges();
      this.scheduleGauges();
    }, this.o.gaugeIntervalMs ?? 5000);
  }
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms));

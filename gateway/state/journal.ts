import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { TimerHandle, Timers } from '../time/timers.js';
import { recordBytes, type IngestLog, type IngestRecord } from './ingest-log.js';

/** aedes' callback for one PUBLISH: PUBACK is sent when it is called without an error. */
export type AckCallback = (err?: Error | null) => void;

export interface JournalOptions {
  readonly log: IngestLog;
  readonly timers: Timers;
  /** durability.commitDelay: how long the first publish of a group waits for others to share its transaction. */
  readonly commitDelayMs: number;
  /** A group is committed at once when it holds this many publishes. Default 1000. */
  readonly maxGroup?: number;
  /** durability.logMaxBytes / logMaxAge: nothing is appended beyond them (the caller's checkpoint truncates). */
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  /** Decode + pipeline for one logged publish, in log order. Must contain its own failures. */
  readonly process: (r: IngestRecord) => void;
  /** The log is at or past half of a bound: a checkpoint should run soon (it truncates the log, then calls resume()). */
  readonly wantCheckpoint: () => void;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

interface Waiting {
  readonly record: IngestRecord;
  readonly done: AckCallback;
}

/**
 * Durable acknowledgement of QoS 1 publishes (docs/durability.md), as a group commit: the publish gate hands each one
 * here with aedes' callback; the publishes that arrive within `commitDelayMs` (or up to `maxGroup`) are written
 * to the ingest log in one transaction, then fed to the pipeline in log order, then acknowledged. So a PUBACK
 * is only ever sent for a publish that is on disk, and the pipeline state only ever holds logged publishes
 * (which is what lets a checkpoint name a log position).
 *
 * Backpressure: when the log is full (bytes or age), publishes wait here unacknowledged; aedes reads nothing
 * more from a client until its pending packets are acknowledged, so memory holds at most one socket read per
 * client and the devices slow down. resume() (after a checkpoint truncated the log) lets them through.
 */
export class IngestJournal {
  private waiting: Waiting[] = [];
  private timer: TimerHandle | undefined;
  private held = false;
  private closed = false;
  /** Waiting for the log's checkpoint write to finish (IngestLog.busy). */
  private deferred = false;
  private readonly maxGroup: number;

  constructor(private readonly o: JournalOptions) {
    this.maxGroup = o.maxGroup ?? 1000;
  }

  /** Called by the publish gate for a QoS >= 1 publish on an ingest topic. */
  submit(record: IngestRecord, done: AckCallback): void {
    if (this.closed) return done(new Error('gateway is stopping'));
    this.waiting.push({ record, done });
    if (this.held) return this.o.metrics.ingestHeld.set(this.waiting.length);
    if (this.waiting.length >= this.maxGroup) this.commit();
    else if (this.timer === undefined) this.timer = this.o.timers.setTimeout(() => this.onTimer(), this.o.commitDelayMs);
  }

  /**
   * Receive time of the oldest publish not yet logged, if any. The gateway's idle-close tick must not pass it:
   * replay after a crash ticks the pipeline to each entry's receive time before feeding it, and a live tick
   * past a waiting publish would close windows that the replay leaves open (see docs/durability.md).
   */
  oldestWaitingAt(): number | undefined {
    return this.waiting[0]?.record.receivedAt;
  }

  /** After a checkpoint freed room in the log. */
  resume(): void {
    if (this.held && !this.closed) this.commit();
  }

  /**
   * Graceful stop, after the broker stopped reading: logs and processes what fits; what does not is refused
   * (not acknowledged: the device sends it again to the next run).
   */
  close(): void {
    if (this.closed) return;
    this.commit(true);
    this.closed = true;
    const left = this.waiting;
    this.waiting = [];
    for (const w of left) w.done(new Error('gateway is stopping'));
    this.o.metrics.ingestHeld.set(0);
  }

  private onTimer(): void {
    this.timer = undefined;
    this.commit();
  }

  /**
   * Appends the longest prefix of the waiting publishes that fits the bounds, processes it, acknowledges it.
   * While a checkpoint is being written on another thread the group waits for it (`force`: the graceful stop,
   * which may block for it).
   */
  private commit(force = false): void {
    if (this.timer !== undefined) {
      this.o.timers.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!force && this.o.log.busy?.() === true) {
      if (!this.deferred) {
        this.deferred = true;
        this.o.log.whenIdle!(() => {
          this.deferred = false;
          if (!this.closed) this.commit();
        });
      }
      return;
    }
    while (this.waiting.length > 0) {
      const n = this.fitting();
      if (n === 0) {
        if (!this.held)
          this.o.logger.warn({ waiting: this.waiting.length, ...this.o.log.totals() }, 'ingest log full: withholding PUBACKs until a checkpoint truncates it');
        this.held = true;
        this.o.metrics.ingestHeld.set(this.waiting.length);
        this.o.wantCheckpoint();
        return;
      }
      const group = this.waiting.splice(0, n);
      try {
        this.o.log.append(group.map((w) => w.record));
      } catch (err) {
        // Not durable, so not acknowledged: the error makes aedes drop the connection and the device resends.
        this.o.logger.error({ err, publishes: group.length }, 'could not write the ingest log: publishes refused');
        for (const w of group) w.done(err as Error);
        continue;
      }
      for (const w of group) this.o.process(w.record);
      for (const w of group) w.done(null);
    }
    if (this.held) this.o.logger.info('ingest log has room again: acknowledging');
    this.held = false;
    this.o.metrics.ingestHeld.set(0);
    const t = this.o.log.totals();
    this.o.metrics.ingestLogEntries.set(t.entries);
    this.o.metrics.ingestLogBytes.set(t.bytes);
    if (t.bytes * 2 >= this.o.maxBytes || (t.oldestReceivedAt !== undefined && (this.o.timers.now() - t.oldestReceivedAt) * 2 >= this.o.maxAgeMs)) {
      this.o.wantCheckpoint();
    }
  }

  /** How many waiting publishes fit (at most maxGroup). An empty log always takes one, so nothing is stuck forever. */
  private fitting(): number {
    const t = this.o.log.totals();
    if (t.oldestReceivedAt !== undefined && this.o.timers.now() - t.oldestReceivedAt >= this.o.maxAgeMs) return 0;
    let bytes = t.bytes;
    let n = 0;
    const limit = Math.min(this.waiting.length, this.maxGroup);
    while (n < limit) {
      const b = recordBytes(this.waiting[n]!.record);
      if (bytes + b > this.o.maxBytes && (t.entries > 0 || n > 0)) break;
      bytes += b;
      n++;
    }
    return n;
  }
}

import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { PermanentWriteError, RetryableWriteError } from '../sink/errors.js';
import type { BatchWriter } from '../sink/influx-writer.js';
import type { BackoffPolicy } from './backoff.js';
import { deadLetter, settleSplit } from './dead-letter.js';
import { type LaneSettings, type Request, refusedByBatch, toRequest } from './request.js';
import { SinkHealth } from './sink-health.js';
import type { OutboxStore, PeekLimit } from './store.js';
import { Wakeup, sleep, type Timers } from '../time/timers.js';

export interface DrainerDeps {
  readonly store: OutboxStore;
  readonly writer: BatchWriter;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly timers: Timers;
  readonly random: () => number;
  readonly backoff: BackoffPolicy;
  /** Several waiting batches go out as one request up to these limits (a backlog drains faster). */
  readonly maxRequestPoints: number;
  readonly maxRequestBytes: number;
  /** A request of at least `minSplitPoints` points goes out as `lanes` parallel requests by series (lanes.ts). */
  readonly lanes: LaneSettings;
  /** Called after every send so the owner refreshes gauges (and trims dead letters when some were added). */
  readonly onChange: (deadLettered: boolean) => void;
}

export interface DrainerState {
  readonly running: boolean;
  readonly backingOff: boolean;
  readonly influxUp: boolean;
  readonly lastError: string | undefined;
  readonly attempt: number;
  /**
   * Batches with an id up to this are being sent or are due to be resent one by one: the drop policy must
   * leave them alone (dropping a newer version of a window after an older one was resent would undo it).
   */
  readonly protectedUpToId: number;
}

const SOLO: PeekLimit = { points: 1, bytes: 1, batches: 1 };
/**
 * How long after sending a request the next group is read. Measured against influxd 1.6 on loopback: an
 * 8 MB body leaves in 6-20 ms, InfluxDB answers in ~450 ms.
 */
const READ_AHEAD_AFTER_MS = 25;

/**
 * Sends the outbox to InfluxDB: oldest first, one group in flight (a backlog's group as parallel lanes by
 * series, settled together), so a later version of a window (a correction) can never be overwritten by an
 * older one. Accept -> delete; retryable -> keep and back off;
 * permanent -> dead-letter (only the refused lines when InfluxDB said which) and go on with the next batch.
 *
 * While a request is in flight the next group is read from the store (read-ahead), so the gateway's share of
 * a backlog drain overlaps InfluxDB's. It is not protected from the drop policy; it is sent only if it is
 * still the head of the queue and the request before it was acknowledged or dead-lettered.
 */
export class Drainer {
  private running = false;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly wakeup = new Wakeup();
  private readonly health: SinkHealth;
  private backingOff = false;
  private inFlightMaxId = 0;
  /** After a permanent error on a multi-batch request, batches up to this id are resent one by one. */
  private soloUntilId = 0;
  /** The group after the one in flight, read while InfluxDB worked; sent next if still valid. */
  private ahead: Request | undefined;

  constructor(private readonly d: DrainerDeps) {
    this.health = new SinkHealth(d);
  }

  state(): DrainerState {
    return {
      running: this.running,
      backingOff: this.backingOff,
      ...this.health.state(),
      protectedUpToId: Math.max(this.inFlightMaxId, this.soloUntilId),
    };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.loop = this.run().catch((err: unknown) => {
      this.d.log.fatal({ err }, 'outbox drain loop crashed');
    });
  }

  /** New work was committed: wake an idle loop. A loop in backoff wakes only if InfluxDB answers its probe. */
  notify(): void {
    if (!this.backingOff) this.wakeup.wake();
  }

  /** Stops after the request in flight (if any) has settled, so its ack or dead letter is recorded. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.wakeup.wake();
    await this.loop;
    this.running = false;
    this.ahead = undefined;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.step();
      } catch (err) {
        // A storage error (disk, I/O): the loop must survive it; the batch stays and is tried again.
        this.d.log.error({ err }, 'outbox drain step failed; retrying in a moment');
        await sleep(this.d.timers, this.d.backoff.initialMs, this.wakeup);
      }
    }
  }

  private async step(): Promise<void> {
    const solo = this.soloUntilId > 0;
    let request = solo ? undefined : this.takeReadAhead();
    if (request === undefined) {
      const group = this.d.store.peek(solo ? SOLO : this.limit());
      if (group.length === 0) {
        this.soloUntilId = 0;
        await sleep(this.d.timers, 60_000, this.wakeup);
        return;
      }
      request = toRequest(group, solo ? undefined : this.d.lanes);
    }
    if (request.lastId >= this.soloUntilId) this.soloUntilId = 0;
    await this.send(request, solo);
  }

  private limit(): PeekLimit {
    return { points: this.d.maxRequestPoints, bytes: this.d.maxRequestBytes, batches: 256 };
  }

  /**
   * The group read ahead during the previous request, if it is still the head of the queue: the drop policy
   * does not protect a group read ahead (only the one in flight), so its batches may have been dropped since.
   * Checked and sent in one synchronous stretch, so nothing can drop them in between.
   */
  private takeReadAhead(): Request | undefined {
    const r = this.ahead;
    this.ahead = undefined;
    return r !== undefined && this.d.store.waitingUpTo(r.lastId) === r.group.length ? r : undefined;
  }

  private async send(request: Request, solo: boolean): Promise<void> {
    const { group, points } = request;
    this.inFlightMaxId = request.lastId;
    let deadLettered = false;
    const parts = request.parts;
    // Settles to the error instead of rejecting: a rejection while the read-ahead below runs would be unhandled.
    // Lanes settle together; a permanent error in any of them outranks a retryable one.
    const outcome = Promise.allSettled(parts.map((p) => this.d.writer.write(p))).then((results) => {
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      if (errors.length === 0) return undefined;
      return { err: errors.find((e) => e instanceof PermanentWriteError) ?? errors[0], results };
    });
    // While InfluxDB parses and stores this request, read and join the next group (still one request in flight):
    // the gateway's share of each round trip then overlaps InfluxDB's instead of adding to it.
    const next = solo ? undefined : this.prefetch(request.lastId, outcome);
    try {
      const failed = await outcome;
      // The group read ahead follows only an acknowledged or dead-lettered one; otherwise its batches are
      // resent one by one or after a backoff, and read again then.
      const ahead = await next;
      if (failed === undefined) {
        this.d.store.ack(group.map((b) => b.id));
        this.d.metrics.pointsWritten.inc(points);
        this.health.answered();
        this.ahead = ahead;
      } else if (failed.err instanceof PermanentWriteError) {
        this.health.answered(); // InfluxDB is up and answering; the data is the problem
        if (group.length > 1 || parts.length > 1) {
          // InfluxDB named every refused line: dead-letter exactly those, acknowledge the rest, send nothing again.
          const split = refusedByBatch(request, failed.results);
          if (split !== undefined) {
            deadLettered = settleSplit(this.d, request, split);
            this.ahead = ahead;
            return;
          }
          // Otherwise find the culprit batch by batch, unsplit (refused line numbers are per request); resending
          // lines InfluxDB already stored rewrites the same values.
          this.soloUntilId = this.inFlightMaxId;
          return;
        }
        deadLetter(this.d, group[0]!, failed.err);
        deadLettered = true;
        this.ahead = ahead;
      } else {
        await this.retryLater(failed.err, points);
      }
    } finally {
      this.inFlightMaxId = 0;
      this.d.onChange(deadLettered);
    }
  }

  /**
   * The next group after `afterId`, split into its lanes, read once the request's body has left; undefined if
   * InfluxDB answered before that (a short request gains nothing from it). Never throws: a storage error
   * shows on the next peek.
   */
  private async prefetch(afterId: number, outcome: Promise<unknown>): Promise<Request | undefined> {
    // The body goes to the socket as the event loop turns; reading ~8 MB from SQLite before it has left would
    // keep InfluxDB waiting for it, the very thing this overlap avoids.
    const answered = new Wakeup();
    let settled = false;
    void outcome.then(() => {
      settled = true;
      answered.wake();
    });
    await sleep(this.d.timers, READ_AHEAD_AFTER_MS, answered);
    if (settled) return undefined;
    try {
      const group = this.d.store.peek(this.limit(), afterId);
      return group.length === 0 ? undefined : toRequest(group, this.d.lanes);
    } catch {
      return undefined;
    }
  }

  private async retryLater(err: unknown, points: number): Promise<void> {
    const delay = this.health.failed(err, points);
    this.backingOff = true;
    try {
      if (err instanceof RetryableWriteError && err.unreachable) await this.waitProbing(delay);
      else await sleep(this.d.timers, delay, this.wakeup);
    } finally {
      this.backingOff = false;
    }
  }

  /** Sleeps up to `delay`, pinging InfluxDB every probe interval; returns as soon as it answers. */
  private async waitProbing(delay: number): Promise<void> {
    const until = this.d.timers.now() + delay;
    while (!this.stopping) {
      const left = until - this.d.timers.now();
      if (left <= 0) return;
      await sleep(this.d.timers, Math.min(left, this.d.backoff.probeIntervalMs), this.wakeup);
      if (this.stopping || this.d.timers.now() >= until) return;
      if (await this.d.writer.ping(Math.min(1000, this.d.backoff.probeIntervalMs))) return;
    }
  }
}

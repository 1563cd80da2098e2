import { DeliverPolicy, type Consumer, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../log.js';
import { CheckpointFormatError, type CheckpointStoreKv, type PartitionCheckpoint } from './checkpoints.js';
import { BatchFormatError, decodeBatch, encodeTick } from './batch.js';
import type { ClusterMetrics } from './metrics.js';
import { partitionSubject, type ClusterNames } from './names.js';
import type { PartitionState, PartitionStates } from './partition-state.js';

/** Tick markers of one partition are at most this frequent (the idle close's resolution in a cluster). */
const MARKER_EVERY_MS = 500;
/** While the partition's consumer has nothing to deliver, its server sends a heartbeat this often. */
const HEARTBEAT_MS = 1000;
/** How long one pull request waits on the server; the client then pulls again. */
const PULL_EXPIRES_MS = 5000;
/** No message and no heartbeat for this long: the consumer is gone (see follow()). */
const SILENT_MS = 3 * HEARTBEAT_MS;
/** Between two attempts to start a consumer: doubling from the first, up to the last. */
const RESUBSCRIBE_MS = [250, 5000] as const;

export interface PartitionWorkerDeps {
  readonly nodeId: string;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: ClusterNames;
  readonly store: CheckpointStoreKv;
  readonly states: PartitionStates;
  /** outbox.flush(): every window emitted so far is committed before a checkpoint that covers it is saved. */
  readonly commitEmitted: () => void;
  readonly metrics: ClusterMetrics;
  readonly log: Logger;
  readonly now: () => number;
  /** Told when a checkpoint write found another owner's (the partition is given up at once). */
  readonly onFenced: (partition: number) => void;
}

/** How `open` resumed: from whose checkpoint, and the stream sequence it replays from. */
export interface Resumed {
  readonly from: 'none' | 'self' | 'other';
  readonly startSeq: number;
}

/**
 * The owner's side of one partition: loads the partition's checkpoint, claims it (a compare-and-set write that
 * fences a former owner), then processes the partition's stream messages from the checkpoint's sequence + 1, in
 * stream order, each with its stored receive time: before each message the pipeline's idle close is ticked to
 * that time, as the single gateway's replay does (recovery.ts), so a replay of the same messages emits the same
 * windows. Checkpoints {sequence, state} with a compare-and-set on the checkpoint's revision.
 */
export class PartitionWorker {
  private state: PartitionState | undefined;
  private consumer: Consumer | undefined;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private lastSeq = 0;
  private savedSeq = 0;
  private revision = 0;
  private pending = 0;
  private changed = false;
  private caughtUp = false;
  /** When the last tick marker was sent (clock ms). */
  private markerAt = 0;
  private closed = false;
  private saving: Promise<unknown> = Promise.resolve();
  /** What open() is doing (in its error logs). */
  step = 'load';

  constructor(
    readonly partition: number,
    private readonly d: PartitionWorkerDeps,
  ) {}

  async open(): Promise<Resumed | undefined> {
    const { store, log } = this.d;
    let cp: PartitionCheckpoint | undefined;
    let revision: number;
    try {
      ({ checkpoint: cp, revision } = await store.load(this.partition));
    } catch (err) {
      if (!(err instanceof CheckpointFormatError)) throw err;
      log.error({ err, partition: this.partition }, 'partition checkpoint unreadable: replaying the partition from the stream start');
      revision = (await this.d.store.load(this.partition).catch(() => ({ revision: 0 }))).revision;
      cp = undefined;
    }
    this.lastSeq = this.savedSeq = cp?.seq ?? 0;
    this.step = 'restore';
    this.state = this.d.states.create(this.partition, cp);
    this.step = 'claim';
    // The claim: re-writes what was loaded under our name; a former owner's next write then fails (fenced).
    const claimed = await store.save(
      this.partition,
      {
        seq: this.lastSeq,
        node: this.d.nodeId,
        savedAt: this.d.now(),
        pipeline: cp?.pipeline ?? new Uint8Array(),
        alerts: cp?.alerts ?? new Uint8Array(),
        sparkplug: cp?.sparkplug ?? new Uint8Array(),
      },
      revision,
    );
    if (claimed.kind === 'fenced') {
      this.state.close();
      this.state = undefined;
      return undefined;
    }
    this.revision = claimed.revision;
    this.step = 'subscribe';
    this.messages = await this.subscribe();
    this.step = 'open';
    this.loop = this.follow(this.messages);
    return { from: cp === undefined ? 'none' : cp.node === this.d.nodeId ? 'self' : 'other', startSeq: this.lastSeq + 1 };
  }

  /** An ordered consumer of the partition's subject from the message after the last one processed. */
  private async subscribe(): Promise<ConsumerMessages> {
    const consumer = await this.d.js.consumers.get(this.d.names.stream, {
      filter_subjects: partitionSubject(this.d.names, this.partition),
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.lastSeq + 1,
    });
    this.consumer = consumer;
    this.pending = (await consumer.info()).num_pending;
    this.caughtUp = this.pending === 0;
    return consumer.consume({ max_messages: 256, idle_heartbeat: HEARTBEAT_MS, expires: PULL_EXPIRES_MS });
  }

  /**
   * Processes messages for as long as the partition is open; when its consumer ends, fails or falls silent, a new
   * one starts after the last message processed, so a partition never stalls while its lease is renewed.
   * Silent: the consumer is an R1 ephemeral on one of the stream's servers, and when that server dies the client
   * library never recovers it (nats.js 3.4 with nats-server 2.9: after missed heartbeats it asks for the
   * consumer's info, which times out instead of saying "not found", and asks again for ever). The worker counts the
   * messages and heartbeats itself, and starts over after SILENT_MS without either.
   */
  private async follow(first: ConsumerMessages): Promise<void> {
    let messages: ConsumerMessages | undefined = first;
    let failures = 0;
    while (!this.closed) {
      try {
        messages ??= this.messages = await this.subscribe();
        failures = 0;
        await this.run(messages, this.consumer!);
      } catch (err) {
        failures++;
        if (!this.closed)
          this.d.log.warn({ err, partition: this.partition, seq: this.lastSeq }, 'partition consumer failed: resubscribing after the last message processed');
      }
      messages = undefined;
      const wait = Math.min(RESUBSCRIBE_MS[1], RESUBSCRIBE_MS[0] * 2 ** Math.max(0, failures - 1));
      if (!this.closed) await new Promise((r) => setTimeout(r, wait));
    }
  }

  private async run(messages: ConsumerMessages, consumer: Consumer): Promise<void> {
    const state = this.state!;
    let heard = Date.now();
    const watch = setInterval(() => {
      if (Date.now() - heard <= SILENT_MS || this.closed) return;
      clearInterval(watch);
      this.d.metrics.consumersRestarted.inc();
      this.d.log.warn(
        { partition: this.partition, seq: this.lastSeq },
        'partition consumer silent (no message, no heartbeat): a new one starts after the last message processed',
      );
      void messages.close().catch(() => undefined);
      // Its server may be gone; if not, the consumer would linger there until its inactive threshold.
      void consumer.delete().catch(() => undefined);
    }, HEARTBEAT_MS);
    watch.unref();
    void (async () => {
      for await (const s of messages.status()) if (s.type === 'heartbeat') heard = Date.now();
    })().catch(() => undefined);
    try {
      await this.process(messages, state, () => (heard = Date.now()));
    } finally {
      clearInterval(watch);
    }
  }

  private async process(messages: ConsumerMessages, state: PartitionState, heard: () => void): Promise<void> {
    for await (const m of messages) {
      heard();
      if (this.closed) break;
      try {
        decodeBatch(
          m.data,
          (topic, payload, receivedAt) => {
            state.tick(receivedAt);
            state.process(topic, payload, receivedAt);
          },
          (t) => state.tick(t),
        );
      } catch (err) {
        if (!(err instanceof BatchFormatError)) throw err;
        // Not written by a gateway front end (someone else published on the subject): skipped, and said.
        this.d.log.warn({ err, partition: this.partition, seq: m.seq }, 'stream message is not an ingest batch: skipped');
      }
      this.lastSeq = m.seq;
      this.pending = m.info.pending;
      this.caughtUp = this.pending === 0;
      this.changed = true;
    }
  }

  /**
   * The idle close by the clock: once every stored message has been processed (not while replaying) and windows are
   * open (or a Sparkplug seq awaited), a tick marker (batch.ts) with the clock minus `graceMs` goes into the partition's stream, at most every
   * MARKER_EVERY_MS; the pipeline ticks when it reads the marker back, so a replay ticks at the same place.
   */
  idleTick(now: number, graceMs: number): void {
    if (this.state === undefined || this.closed) return;
    if (this.caughtUp && now - this.markerAt >= MARKER_EVERY_MS && this.state.needsTicks()) {
      this.markerAt = now;
      this.d.js.publish(partitionSubject(this.d.names, this.partition), encodeTick(now - graceMs)).catch((err: unknown) => {
        this.d.log.debug({ err, partition: this.partition }, 'tick marker not stored (the next one follows)');
      });
    }
    this.state.tickAlerts(now);
    this.d.metrics.partitionLag.set({ partition: String(this.partition) }, this.pending);
    this.d.metrics.checkpointLag.set({ partition: String(this.partition) }, this.lastSeq - this.savedSeq);
  }

  /**
   * Captures the state now (covering messages up to lastSeq), commits the emitted windows to the outbox, then
   * saves. Returns false when fenced. One save at a time.
   */
  checkpoint(): Promise<boolean> {
    const run = this.saving.then(() => this.save());
    this.saving = run.catch(() => undefined);
    return run;
  }

  private async save(): Promise<boolean> {
    if (this.state === undefined) return true;
    if (!this.changed && this.lastSeq === this.savedSeq) {
      this.d.metrics.checkpoints.inc({ result: 'unchanged' });
      return true;
    }
    const seq = this.lastSeq;
    this.changed = false;
    try {
      const parts = this.state.capture();
      // Before the checkpoint is saved: it must never cover a window that is only in memory.
      this.d.commitEmitted();
      const r = await this.d.store.save(this.partition, { seq, node: this.d.nodeId, savedAt: this.d.now(), ...parts }, this.revision);
      if (r.kind === 'fenced') {
        this.d.metrics.checkpoints.inc({ result: 'fenced' });
        this.d.onFenced(this.partition);
        return false;
      }
      this.revision = r.revision;
      this.savedSeq = seq;
      this.d.metrics.checkpoints.inc({ result: 'saved' });
      // What the checkpoint covers is never read again: the stream keeps only the partition's tail.
      await this.d.jsm.streams.purge(this.d.names.stream, { filter: partitionSubject(this.d.names, this.partition), seq: seq + 1 }).catch(() => undefined);
      return true;
    } catch (err) {
      this.changed = true;
      this.d.metrics.checkpoints.inc({ result: 'failed' });
      this.d.log.warn({ err, partition: this.partition }, 'partition checkpoint failed (kept in memory, retried)');
      return true;
    }
  }

  /**
   * Stops processing. With `handover`, a final checkpoint first covers everything processed, so the next owner
   * resumes exactly after it (no replay). Without (fenced, lease lost), the state is dropped: the owner that has
   * the lease replays from the last checkpoint.
   */
  async close(handover: boolean): Promise<{ seq: number; saved: boolean }> {
    if (this.closed) return { seq: this.lastSeq, saved: false };
    this.closed = true;
    await this.messages?.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
    void this.consumer?.delete().catch(() => undefined);
    let saved = false;
    if (handover) saved = await this.checkpoint().catch(() => false);
    this.state?.close();
    this.state = undefined;
    this.d.metrics.partitionLag.remove({ partition: String(this.partition) });
    this.d.metrics.checkpointLag.remove({ partition: String(this.partition) });
    return { seq: this.lastSeq, saved: saved && this.savedSeq === this.lastSeq };
  }

  status(): { partition: number; seq: number; checkpointSeq: number; pending: number } {
    return { partition: this.partition, seq: this.lastSeq, checkpointSeq: this.savedSeq, pending: this.pending };
  }
}

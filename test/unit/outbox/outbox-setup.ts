import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import { MemoryOutboxStore } from '../../../gateway/outbox/memory-store.js';
import { Outbox, type OutboxOptions } from '../../../gateway/outbox/outbox.js';
import { RetryableWriteError } from '../../../gateway/sink/errors.js';
import { bodyText, type BatchWriter, type WriteBody } from '../../../gateway/sink/influx-writer.js';
import type { OutPoint } from '../../../gateway/sink/point.js';
import { ManualTimers } from '../../support/manual-timers.js';

/** An Outbox with a memory store, a scripted writer and a test-driven clock (outbox and read-ahead tests). */
export type Reply = 'ok' | Error | (() => Promise<void>);

export class FakeWriter implements BatchWriter {
  readonly bodies: string[] = [];
  readonly storeSnapshots: number[] = [];
  replies: Reply[] = [];
  online = false;
  pings = 0;
  constructor(private readonly store?: MemoryOutboxStore) {}
  async write(body: WriteBody): Promise<void> {
    this.bodies.push(bodyText(body));
    if (this.store) this.storeSnapshots.push(this.store.totals().points);
    const r = this.replies.shift() ?? 'ok';
    if (r === 'ok') return;
    if (r instanceof Error) throw r;
    return r();
  }
  async ping(): Promise<boolean> {
    this.pings++;
    return this.online;
  }
}

export const pt = (i: number, extra: Partial<OutPoint> = {}): OutPoint => ({
  measurement: 'm',
  tags: { d: 'x' },
  fields: { v: i },
  time: i * 1000,
  ...extra,
});

export function setup(opts: Partial<OutboxOptions> = {}) {
  const timers = new ManualTimers();
  const store = new MemoryOutboxStore();
  const writer = new FakeWriter(store);
  const metrics = createMetrics();
  const outbox = new Outbox({
    store,
    writer,
    metrics,
    log: createLogger('silent'),
    batchSize: 3,
    flushIntervalMs: 1000,
    maxBytes: 1024 * 1024,
    timers,
    random: () => 0.5, // no jitter
    ...opts,
  });
  const counter = async (name: 'pointsWritten' | 'outboxRetried' | 'outboxDeadLettered' | 'outboxDropped') => (await metrics[name].get()).values[0]?.value ?? 0;
  return { timers, store, writer, metrics, outbox, counter };
}

export const unreachable = () => new RetryableWriteError('connect ECONNREFUSED', 'unreachable', undefined, 'ECONNREFUSED');

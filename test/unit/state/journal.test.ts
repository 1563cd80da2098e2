import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import type { IngestRecord } from '../../../gateway/state/ingest-log.js';
import { IngestJournal } from '../../../gateway/state/journal.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { ManualTimers } from '../../support/manual-timers.js';

function setup(o: { maxBytes?: number; maxAgeMs?: number; maxGroup?: number } = {}) {
  const timers = new ManualTimers();
  const store = new MemoryStateStore();
  const appends: number[] = [];
  const append = store.append.bind(store);
  store.append = (rs) => {
    appends.push(rs.length);
    return append(rs);
  };
  const processed: IngestRecord[] = [];
  const acks: (Error | null | undefined)[] = [];
  let wanted = 0;
  const journal = new IngestJournal({
    log: store,
    timers,
    commitDelayMs: 2,
    maxBytes: o.maxBytes ?? 1_000_000,
    maxAgeMs: o.maxAgeMs ?? 60_000,
    ...(o.maxGroup ? { maxGroup: o.maxGroup } : {}),
    process: (r) => {
      // The record must be on disk before the pipeline sees it.
      expect([...store.after(0)].some((e) => e.receivedAt === r.receivedAt)).toBe(true);
      processed.push(r);
    },
    wantCheckpoint: () => void wanted++,
    metrics: createMetrics(),
    logger: createLogger('silent'),
  });
  const submit = (i: number, bytes = 10) =>
    journal.submit({ topic: 'devices/d/telemetry', payload: Buffer.alloc(bytes), receivedAt: timers.now() + i }, (err) => {
      // PUBACK only after the record was logged and processed.
      if (!err) expect(processed.length).toBeGreaterThan(acks.filter((a) => a === null).length);
      acks.push(err);
    });
  return { timers, store, appends, processed, acks, journal, submit, wanted: () => wanted };
}

describe('IngestJournal (group commit before PUBACK)', () => {
  it('logs the publishes of one commit delay in one transaction, then processes and acknowledges them in order', async () => {
    const t = setup();
    t.submit(0);
    t.submit(1);
    t.submit(2);
    expect(t.acks).toEqual([]);
    expect(t.store.totals().entries).toBe(0);
    expect(t.journal.oldestWaitingAt()).toBe(t.timers.now());
    await t.timers.advance(2);
    expect(t.appends).toEqual([3]);
    expect(t.processed.map((r) => r.receivedAt - t.processed[0]!.receivedAt)).toEqual([0, 1, 2]);
    expect(t.acks).toEqual([null, null, null]);
    expect(t.journal.oldestWaitingAt()).toBeUndefined();
  });

  it('commits at once when a group is full', () => {
    const t = setup({ maxGroup: 4 });
    for (let i = 0; i < 9; i++) t.submit(i);
    expect(t.appends).toEqual([4, 4]);
    expect(t.acks.length).toBe(8);
  });

  it('refuses (no PUBACK) what it could not write, and the next group still goes through', async () => {
    const t = setup();
    t.store.failAppends = true;
    t.submit(0);
    await t.timers.advance(2);
    expect(t.acks).toHaveLength(1);
    expect(t.acks[0]).toBeInstanceOf(Error);
    expect(t.processed).toEqual([]);
    t.store.failAppends = false;
    t.submit(1);
    await t.timers.advance(2);
    expect(t.acks[1]).toBeNull();
  });

  it('is bounded: beyond logMaxBytes PUBACKs wait until a checkpoint truncates the log', async () => {
    const t = setup({ maxBytes: 300 }); // 30 bytes a record (topic 19 + payload 10... + 1)
    for (let i = 0; i < 20; i++) t.submit(i, 10);
    await t.timers.advance(2);
    const per = 'devices/d/telemetry'.length + 10;
    expect(t.store.totals().bytes).toBeLessThanOrEqual(300);
    expect(t.acks.length).toBe(Math.floor(300 / per));
    expect(t.wanted()).toBeGreaterThan(0);
    expect(t.journal.oldestWaitingAt()).toBeDefined();
    // More publishes while full: still no PUBACK, and the log does not grow.
    for (let i = 20; i < 30; i++) t.submit(i, 10);
    await t.timers.advance(50);
    expect(t.acks.length).toBe(Math.floor(300 / per));
    expect(t.store.totals().bytes).toBeLessThanOrEqual(300);
    // A checkpoint covers the log: room again, the waiting ones are logged and acknowledged in order.
    let rounds = 0;
    while (t.acks.length < 30 && rounds++ < 10) {
      t.store.save({
        pipeline: new Uint8Array(0),
        alerts: new Uint8Array(0),
        sparkplug: new Uint8Array(0),
        savedAt: t.timers.now(),
        logPosition: t.store.totals().lastPosition,
      });
      t.journal.resume();
      expect(t.store.totals().bytes).toBeLessThanOrEqual(300);
    }
    expect(t.acks).toEqual(Array(30).fill(null));
    expect(t.processed.map((r) => r.receivedAt)).toEqual([...t.processed.map((r) => r.receivedAt)].sort((a, b) => a - b));
  });

  it('is bounded by age: an old unchecked log holds PUBACKs', async () => {
    const t = setup({ maxAgeMs: 1_000 });
    t.submit(0);
    await t.timers.advance(2);
    expect(t.acks).toEqual([null]);
    await t.timers.advance(1_000);
    t.submit(0);
    await t.timers.advance(2);
    expect(t.acks).toHaveLength(1);
    expect(t.wanted()).toBeGreaterThan(0);
    t.store.save({
      pipeline: new Uint8Array(0),
      alerts: new Uint8Array(0),
      sparkplug: new Uint8Array(0),
      savedAt: t.timers.now(),
      logPosition: t.store.totals().lastPosition,
    });
    t.journal.resume();
    expect(t.acks).toEqual([null, null]);
  });

  it('close() logs what waits and refuses later publishes', async () => {
    const t = setup();
    t.submit(0);
    t.journal.close();
    expect(t.acks).toEqual([null]);
    t.submit(1);
    expect(t.acks[1]).toBeInstanceOf(Error);
    expect(t.timers.timerCount).toBe(0);
  });
});

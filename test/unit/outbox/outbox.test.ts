import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, retryDelayMs } from '../../../gateway/outbox/backoff.js';
import { PermanentWriteError, RetryableWriteError } from '../../../gateway/sink/errors.js';
import { pt, setup, unreachable } from './outbox-setup.js';

/** The outbox's policies with a memory store, a scripted writer and a test-driven clock. */

describe('backoff', () => {
  it('doubles from 1 s to 60 s with ±20% jitter and honours Retry-After', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 7, 8, 50].map((a) => retryDelayMs(DEFAULT_BACKOFF, a, mid))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect(retryDelayMs(DEFAULT_BACKOFF, 1, () => 0)).toBe(800);
    expect(retryDelayMs(DEFAULT_BACKOFF, 1, () => 1)).toBe(1200);
    expect(retryDelayMs(DEFAULT_BACKOFF, 9, () => 1)).toBe(60000);
    expect(retryDelayMs(DEFAULT_BACKOFF, 1, mid, 7000)).toBe(7000);
    expect(retryDelayMs(DEFAULT_BACKOFF, 1, mid, 10 ** 9)).toBe(DEFAULT_BACKOFF.maxRetryAfterMs);
  });
});

describe('Outbox', () => {
  it('commits a full batch, and a partial one after flushInterval on the gateway clock, before sending', async () => {
    const { outbox, writer, timers, counter } = setup();
    outbox.start();
    outbox.append([pt(1), pt(2), pt(3), pt(4)]);
    expect(outbox.status().openPoints).toBe(1);
    await timers.advance(0);
    expect(writer.bodies).toEqual(['m,d=x v=1 1000\nm,d=x v=2 2000\nm,d=x v=3 3000']);
    expect(writer.storeSnapshots).toEqual([3]); // on disk while being sent
    await timers.advance(999);
    expect(writer.bodies).toHaveLength(1);
    await timers.advance(1);
    expect(writer.bodies[1]).toBe('m,d=x v=4 4000');
    expect(await counter('pointsWritten')).toBe(4);
    expect(outbox.status()).toMatchObject({ points: 0, openPoints: 0, influxUp: true, draining: true });
    await outbox.close();
  });

  it('seal() closes the open batch without committing it; whatever commits next commits it first, in order', async () => {
    const { outbox, store, timers, writer } = setup({ batchSize: 3 });
    outbox.append([pt(1), pt(2)]);
    outbox.seal();
    expect(store.totals().points).toBe(0); // sealed, still in memory
    expect(outbox.status().openPoints).toBe(2);
    expect(outbox.commitSealed()).toBe(true);
    expect(store.totals().points).toBe(2);
    expect(outbox.commitSealed()).toBe(true); // nothing sealed: nothing committed twice
    expect(store.totals()).toMatchObject({ points: 2, batches: 1 });

    // A batch filling up after a seal commits the sealed lines first (a later line for a point must win).
    outbox.append([pt(3)]);
    outbox.seal();
    outbox.append([pt(3, { fields: { v: 33 } }), pt(4), pt(5)]);
    expect(store.totals()).toMatchObject({ points: 6, batches: 3 });
    // And the flush timer started by the sealed lines commits them when nobody else does.
    outbox.append([pt(6)]);
    outbox.seal();
    await timers.advance(1000);
    expect(store.totals()).toMatchObject({ points: 7, batches: 4 });
    outbox.start();
    await timers.advance(0);
    await timers.advance(0);
    const lines = writer.bodies.join('\n').split('\n');
    expect(lines.indexOf('m,d=x v=3 3000')).toBeLessThan(lines.indexOf('m,d=x v=33 3000'));
    expect(lines).toHaveLength(7);
    await outbox.close();
  });

  it('commitSealed(n) commits the sealed lines in pieces of at most n lines, in order', async () => {
    const { outbox, store, writer, timers } = setup({ batchSize: 10 });
    outbox.append([pt(1), pt(2), pt(3), pt(4), pt(5)]);
    outbox.seal();
    outbox.append([pt(6)]);
    outbox.seal();
    outbox.append([pt(7)]); // open, not sealed: not part of it
    expect(outbox.commitSealed(2)).toBe(false);
    expect(store.totals()).toMatchObject({ points: 2, batches: 1 });
    expect(outbox.status().openPoints).toBe(5);
    expect(outbox.commitSealed(2)).toBe(false);
    expect(outbox.commitSealed(2)).toBe(false); // the last line of the first sealed batch
    expect(outbox.commitSealed(2)).toBe(true); // the second sealed batch
    expect(store.totals()).toMatchObject({ points: 6, batches: 4 });
    expect(outbox.status().openPoints).toBe(1);
    outbox.flush();
    outbox.start();
    await timers.advance(0);
    await timers.advance(0);
    expect(
      writer.bodies
        .join('\n')
        .split('\n')
        .map((l) => l.split(' ')[1]),
    ).toEqual(['v=1', 'v=2', 'v=3', 'v=4', 'v=5', 'v=6', 'v=7']);
    await outbox.close();
  });

  it('keeps a batch on retryable errors and retries after 1 s, 2 s, ...', async () => {
    const { outbox, writer, timers, counter } = setup();
    const err = new RetryableWriteError('503', 'server');
    writer.replies = [err, err, 'ok'];
    outbox.append([pt(1), pt(2), pt(3)]);
    outbox.start();
    await timers.advance(0);
    expect(writer.bodies).toHaveLength(1);
    expect(outbox.status()).toMatchObject({ influxUp: false, draining: false, points: 3, lastError: '503' });
    await timers.advance(999);
    expect(writer.bodies).toHaveLength(1);
    await timers.advance(1);
    expect(writer.bodies).toHaveLength(2);
    await timers.advance(1999);
    expect(writer.bodies).toHaveLength(2);
    await timers.advance(1);
    expect(writer.bodies).toHaveLength(3);
    expect(await counter('outboxRetried')).toBe(6);
    expect(await counter('pointsWritten')).toBe(3);
    expect(outbox.status()).toMatchObject({ points: 0, influxUp: true });
    expect(writer.pings).toBe(0); // a server that answers 503 is reachable: no probing
    await outbox.close();
  });

  it('honours Retry-After', async () => {
    const { outbox, writer, timers } = setup();
    writer.replies = [new RetryableWriteError('429', 'throttled', 30_000)];
    outbox.append([pt(1), pt(2), pt(3)]);
    outbox.start();
    await timers.advance(29_999);
    expect(writer.bodies).toHaveLength(1);
    await timers.advance(1);
    expect(writer.bodies).toHaveLength(2);
    await outbox.close();
  });

  it('while InfluxDB is unreachable, probes with a ping each second and retries as soon as it answers', async () => {
    const { outbox, writer, timers } = setup();
    writer.replies = Array.from({ length: 6 }, unreachable);
    outbox.append([pt(1), pt(2), pt(3)]);
    outbox.start();
    // 6 failures: the retry delay has grown to 32 s.
    await timers.advance(1000 + 2000 + 4000 + 8000 + 16000);
    expect(writer.bodies).toHaveLength(6);
    await timers.advance(5000);
    expect(writer.bodies).toHaveLength(6);
    writer.online = true;
    await timers.advance(1000);
    expect(writer.bodies).toHaveLength(7);
    expect(outbox.status()).toMatchObject({ points: 0, influxUp: true });
    await outbox.close();
  });

  it('sends one request at a time, oldest first', async () => {
    const { outbox, writer, timers } = setup({ maxRequestPoints: 3 });
    let release!: () => void;
    writer.replies = [() => new Promise<void>((r) => (release = r))];
    outbox.start();
    outbox.append([pt(1), pt(2), pt(3)]);
    outbox.append([pt(4), pt(5), pt(6)]);
    await timers.advance(5000);
    expect(writer.bodies).toHaveLength(1);
    release();
    await timers.advance(0);
    expect(writer.bodies.map((b) => b.split('\n')[0])).toEqual(['m,d=x v=1 1000', 'm,d=x v=4 4000']);
    await outbox.close();
  });

  it('merges a backlog into larger requests up to maxRequestPoints', async () => {
    const { outbox, writer, timers } = setup({ maxRequestPoints: 6 });
    outbox.append([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => pt(i)));
    outbox.flush();
    outbox.start();
    await timers.advance(0);
    expect(writer.bodies.map((b) => b.split('\n').length)).toEqual([6, 4]);
    await outbox.close();
  });

  it('dead-letters a permanently refused batch (or only its refused lines) and continues', async () => {
    const { outbox, writer, timers, counter, store } = setup({ maxRequestPoints: 3 });
    writer.replies = [new PermanentWriteError('bad', 400), new PermanentWriteError('partial write: x dropped=1', 400, [1]), 'ok'];
    outbox.append([1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => pt(i)));
    outbox.start();
    await timers.advance(0);
    expect(writer.bodies).toHaveLength(3);
    expect(await counter('outboxDeadLettered')).toBe(4);
    expect(await counter('pointsWritten')).toBe(2 + 3);
    expect(store.deadLetters(10).map((d) => [d.error, d.body])).toEqual([
      ['partial write: x dropped=1', 'm,d=x v=5 5000'],
      ['bad', 'm,d=x v=1 1000\nm,d=x v=2 2000\nm,d=x v=3 3000'],
    ]);
    expect(outbox.status()).toMatchObject({ points: 0, deadLetters: 4, influxUp: true });
    await outbox.close();
  });

  it('after a permanent error on a merged request, resends its batches one by one', async () => {
    const { outbox, writer, timers, counter } = setup({ maxRequestPoints: 100 });
    writer.replies = ['ok'];
    outbox.append([1, 2, 3, 4, 5, 6].map((i) => pt(i)));
    outbox.flush();
    writer.replies = [new PermanentWriteError('bad', 400), 'ok', new PermanentWriteError('bad', 400)];
    outbox.start();
    await timers.advance(0);
    expect(writer.bodies.map((b) => b.split('\n').length)).toEqual([6, 3, 3]);
    expect(await counter('outboxDeadLettered')).toBe(3);
    await outbox.close();
  });

  it('drops the oldest batches beyond maxBytes, never the one in flight, and counts them', async () => {
    const { outbox, writer, timers, counter, store } = setup({ maxBytes: 200, maxRequestPoints: 3 });
    let release!: () => void;
    writer.replies = [() => new Promise<void>((r) => (release = r))];
    outbox.start();
    outbox.append([1, 2, 3].map((i) => pt(i))); // ~45 bytes a batch
    await timers.advance(0);
    for (let i = 4; i <= 30; i++) outbox.append([pt(i)]);
    outbox.flush();
    expect(store.totals().bytes).toBeLessThanOrEqual(200);
    expect(store.peek({ points: 1, bytes: 1, batches: 1 })[0]!.body.toString()).toContain('v=1 1000'); // the in-flight batch stays
    const dropped = await counter('outboxDropped');
    expect(dropped).toBeGreaterThan(0);
    release();
    await timers.advance(0);
    const sent = writer.bodies.join('\n').split('\n').length;
    expect(sent + dropped).toBe(30);
    expect(writer.bodies.at(-1)).toContain('v=30 30000');
    await outbox.close();
  });

  it('counts points with no writable field and never sends them', async () => {
    const { outbox, writer, timers, counter } = setup();
    outbox.append([pt(1, { fields: { v: Number.NaN } }), pt(2)]);
    outbox.start();
    outbox.flush();
    await timers.advance(0);
    expect(writer.bodies).toEqual(['m,d=x v=2 2000']);
    expect(await counter('outboxDeadLettered')).toBe(1);
    await outbox.close();
  });

  it('status reports the age of the oldest batch; close() commits the open batch and waits for the request in flight', async () => {
    const { outbox, writer, timers, store, metrics } = setup();
    writer.replies = [new RetryableWriteError('down', 'server')];
    outbox.start();
    outbox.append([pt(1), pt(2), pt(3)]);
    await timers.advance(10_500);
    expect(outbox.status().oldestAgeMs).toBe(0); // sent again after 1 s and delivered
    writer.replies = [new RetryableWriteError('down', 'server')];
    outbox.append([pt(4), pt(5), pt(6)]);
    await timers.advance(500);
    expect(outbox.status().oldestAgeMs).toBe(500);
    await timers.advance(5000);
    expect((await metrics.outboxOldestAge.get()).values[0]?.value).toBe(0);
    let release!: () => void;
    writer.replies = [() => new Promise<void>((r) => (release = r))];
    outbox.append([pt(7)]);
    await timers.advance(1000); // timer commit, sent, held in flight
    outbox.append([pt(8)]);
    const closing = outbox.close();
    expect(store.totals().points).toBe(2); // pt 7 in flight + pt 8 committed by close()
    release();
    await closing;
    expect(store.closed).toBe(true);
    expect(store.totals().points).toBe(1);
    expect(() => outbox.append([pt(9)])).toThrow(/closed/);
  });

  it('survives a storage error in the drain loop and carries on', async () => {
    const { outbox, writer, timers, store } = setup();
    const realPeek = store.peek.bind(store);
    let failures = 1;
    store.peek = (limit) => {
      if (failures-- > 0) throw new Error('SQLITE_IOERR: disk I/O error');
      return realPeek(limit);
    };
    outbox.append([pt(1), pt(2), pt(3)]);
    outbox.start();
    await timers.advance(0);
    expect(writer.bodies).toHaveLength(0);
    await timers.advance(1000);
    expect(writer.bodies).toHaveLength(1);
    expect(outbox.status().points).toBe(0);
    await outbox.close();
  });
});

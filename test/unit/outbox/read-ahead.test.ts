import { describe, expect, it } from 'vitest';
import { PermanentWriteError, RetryableWriteError } from '../../../gateway/sink/errors.js';
import { pt, setup } from './outbox-setup.js';

/**
 * The drainer reads the next group while a request is in flight (test/bench/outbox-drain.ts: the gateway's
 * share of a round trip overlaps InfluxDB's), 25 ms after sending it. Still one request in flight, oldest
 * first; a group read ahead is sent only if it is still the head of the queue, and only after an
 * acknowledged or dead-lettered request. Replies here take 100 ms on the test clock, as a large request does.
 */
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => pt(from + i));
/** First and last value of each request body. */
const spans = (bodies: string[]) => bodies.map((b) => b.split('\n').map((l) => Number(/v=(\d+)/.exec(l)![1]))).map((v) => [v[0], v.at(-1)]);

function withPeekLog(s: ReturnType<typeof setup>) {
  const peeks: [afterId: number, ids: number[]][] = [];
  const real = s.store.peek.bind(s.store);
  s.store.peek = (limit, afterId) => {
    const got = real(limit, afterId);
    peeks.push([afterId ?? 0, got.map((b) => b.id)]);
    return got;
  };
  return peeks;
}

/** A reply that settles after `ms` on the test clock. */
function slow(s: ReturnType<typeof setup>, reply: 'ok' | Error, ms = 100) {
  return () =>
    new Promise<void>((resolve, reject) => {
      s.timers.setTimeout(() => (reply === 'ok' ? resolve() : reject(reply)), ms);
    });
}

function hold(s: ReturnType<typeof setup>): () => void {
  let release!: () => void;
  s.writer.replies.push(() => new Promise<void>((r) => (release = r)));
  return () => release();
}

describe('Drainer read-ahead', () => {
  it('reads the next group while a request is in flight and sends it after the ack, one request at a time', async () => {
    const s = setup({ maxRequestPoints: 6 });
    const peeks = withPeekLog(s);
    const release = hold(s);
    s.writer.replies.push(slow(s, 'ok'));
    s.outbox.append(range(1, 12)); // batches 1..4 of 3 points
    s.outbox.start();
    await s.timers.advance(24);
    expect(peeks).toHaveLength(1); // not before the body has left
    await s.timers.advance(1);
    expect(s.writer.bodies).toHaveLength(1);
    expect(peeks).toEqual([
      [0, [1, 2]],
      [2, [3, 4]], // read ahead while 1..2 are in flight
    ]);
    expect(s.store.totals().points).toBe(12); // reading ahead deletes nothing
    release();
    await s.timers.advance(0);
    expect(spans(s.writer.bodies)).toEqual([
      [1, 6],
      [7, 12],
    ]);
    expect(peeks).toHaveLength(2); // the second request came from the read-ahead, no fresh peek first
    await s.timers.advance(100);
    expect(peeks[2]).toEqual([4, []]);
    expect(s.store.totals().points).toBe(0);
    expect(await s.counter('pointsWritten')).toBe(12);
    await s.outbox.close();
  });

  it('does not send a group read ahead when the size cap dropped its batches meanwhile', async () => {
    // One ~44-byte batch per request; the cap holds two batches.
    const s = setup({ maxRequestPoints: 3, maxBytes: 100 });
    const peeks = withPeekLog(s);
    const release = hold(s);
    s.outbox.append(range(1, 6));
    s.outbox.start();
    await s.timers.advance(25);
    expect(peeks).toEqual([
      [0, [1]],
      [1, [2]], // batch 2 read ahead
    ]);
    s.outbox.append(range(7, 9)); // over the cap: the oldest batch not in flight (2, the one read ahead) goes
    expect(await s.counter('outboxDropped')).toBe(3);
    release();
    await s.timers.advance(100);
    expect(spans(s.writer.bodies)).toEqual([
      [1, 3],
      [7, 9],
    ]);
    expect(s.writer.bodies.join('\n')).not.toMatch(/v=[456] /);
    expect(s.store.totals().points).toBe(0);
    expect(await s.counter('pointsWritten')).toBe(6);
    await s.outbox.close();
  });

  it('after a permanent error on a merged request, resends its batches one by one before the group read ahead', async () => {
    const s = setup({ maxRequestPoints: 6 });
    const peeks = withPeekLog(s);
    s.writer.replies = [slow(s, new PermanentWriteError('bad', 400)), 'ok', new PermanentWriteError('bad', 400)];
    s.outbox.append(range(1, 12));
    s.outbox.start();
    await s.timers.advance(100);
    expect(peeks[1]).toEqual([2, [3, 4]]); // read ahead during the refused request, then not used
    expect(spans(s.writer.bodies)).toEqual([
      [1, 6],
      [1, 3],
      [4, 6],
      [7, 12],
    ]);
    expect(await s.counter('pointsWritten')).toBe(9);
    expect(s.store.deadLetters(10).map((d) => d.body.split('\n').length)).toEqual([3]);
    expect(s.outbox.status()).toMatchObject({ points: 0, deadLetters: 3 });
    await s.outbox.close();
  });

  it('after a dead-lettered single batch, sends the group read ahead next', async () => {
    const s = setup({ maxRequestPoints: 3 });
    const peeks = withPeekLog(s);
    s.writer.replies = [slow(s, new PermanentWriteError('bad', 400))];
    s.outbox.append(range(1, 6));
    s.outbox.start();
    await s.timers.advance(100);
    expect(spans(s.writer.bodies)).toEqual([
      [1, 3],
      [4, 6],
    ]);
    expect(peeks.slice(0, 3)).toEqual([
      [0, [1]],
      [1, [2]],
      [0, []], // batch 2 was the read-ahead (no fresh peek of the head before it); its reply was quick
    ]);
    expect(s.outbox.status()).toMatchObject({ points: 0, deadLetters: 3 });
    await s.outbox.close();
  });

  it('after a retryable error, drops the read-ahead and resends the same request first after the backoff', async () => {
    const s = setup({ maxRequestPoints: 6 });
    const peeks = withPeekLog(s);
    s.writer.replies = [slow(s, new RetryableWriteError('503', 'server'))];
    s.outbox.append(range(1, 12));
    s.outbox.start();
    await s.timers.advance(100);
    expect(s.writer.bodies).toHaveLength(1);
    expect(peeks).toHaveLength(2); // read ahead, then dropped while backing off
    await s.timers.advance(1000);
    expect(peeks[2]).toEqual([0, [1, 2]]); // the head is read again
    expect(spans(s.writer.bodies)).toEqual([
      [1, 6],
      [1, 6],
      [7, 12],
    ]);
    expect(s.store.totals().points).toBe(0);
    await s.outbox.close();
  });

  it('close() during a request waits for it and sends nothing read ahead; the rest stays on disk', async () => {
    const s = setup({ maxRequestPoints: 6 });
    const release = hold(s);
    const peeks = withPeekLog(s);
    s.outbox.append(range(1, 12));
    s.outbox.start();
    await s.timers.advance(25);
    expect(peeks.at(-1)).toEqual([2, [3, 4]]);
    const closing = s.outbox.close();
    release();
    await closing;
    expect(spans(s.writer.bodies)).toEqual([[1, 6]]);
    expect(s.store.closed).toBe(true);
    expect(s.store.peek({ points: 100, bytes: 1e9, batches: 10 }).map((b) => b.id)).toEqual([3, 4]);
    expect(await s.counter('pointsWritten')).toBe(6);
  });

  it('skips the read-ahead when InfluxDB answers before the body would have left', async () => {
    const s = setup({ maxRequestPoints: 6 });
    const peeks = withPeekLog(s);
    s.outbox.append(range(1, 12));
    s.outbox.start();
    await s.timers.advance(0);
    expect(spans(s.writer.bodies)).toEqual([
      [1, 6],
      [7, 12],
    ]);
    expect(peeks.map(([after]) => after)).toEqual([0, 0, 0]);
    expect(s.timers.timerCount).toBe(2); // the idle wait and the gauge refresh: no read-ahead timer left behind
    await s.outbox.close();
  });
});

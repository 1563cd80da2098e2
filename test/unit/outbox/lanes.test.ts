import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitBySeries } from '../../../gateway/outbox/lanes.js';
import { PermanentWriteError, RetryableWriteError } from '../../../gateway/sink/errors.js';
import { pt, setup } from './outbox-setup.js';

const seriesOf = (line: string) => /^((?:[^ \\]|\\.)*)/.exec(line)![1]!;

describe('splitBySeries', () => {
  const line = fc
    .tuple(fc.constantFrom('m', 'telemetry', 'we\\ ird'), fc.constantFrom('a', 'b', 'c\\ d', 'e\\,f', 'g'), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 5 }))
    .map(([m, tag, v, t]) => `${m},d=${tag} v=${v} ${t}`);

  it('keeps every line, each series whole in one lane and in its original order', () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 4 }), (lines, lanes) => {
        const parts = splitBySeries(Buffer.from(lines.join('\n')), lanes).map((b) => b.toString().split('\n'));
        expect(parts.length).toBeLessThanOrEqual(lanes);
        expect(parts.flat().sort()).toEqual([...lines].sort());
        const laneOf = new Map<string, number>();
        parts.forEach((p, i) => {
          for (const l of p) {
            expect(laneOf.get(seriesOf(l)) ?? i).toBe(i);
            laneOf.set(seriesOf(l), i);
          }
        });
        for (const p of parts) {
          const s = seriesOf(p[0]!);
          const inOrder = (ls: string[]) => ls.filter((l) => seriesOf(l) === s);
          expect(inOrder(p)).toEqual(inOrder(lines));
        }
      }),
    );
  });

  it('one lane, or a body of one series, is not split', () => {
    const body = Buffer.from('m,d=a v=1 1\nm,d=a v=2 2');
    expect(splitBySeries(body, 1)).toEqual([body]);
    expect(splitBySeries(body, 3).map(String)).toEqual(['m,d=a v=1 1\nm,d=a v=2 2']);
  });
});

describe('Drainer lanes (a backlog drains over parallel requests)', () => {
  const series = (i: number) => pt(i, { tags: { d: `s${i % 7}` } });
  const points = (n: number) => Array.from({ length: n }, (_, i) => series(i + 1));

  it('splits a large request by series, sends the lanes together, and acks once all have settled', async () => {
    const s = setup({ batchSize: 10, maxRequestPoints: 40, minSplitPoints: 20, writeLanes: 2 });
    s.outbox.append(points(40));
    s.outbox.start();
    await s.timers.advance(0);
    await s.timers.advance(0);
    expect(s.writer.bodies).toHaveLength(2);
    const lines = s.writer.bodies.flatMap((b) => b.split('\n'));
    expect(lines).toHaveLength(40);
    expect(s.store.totals().points).toBe(0);
    expect(await s.counter('pointsWritten')).toBe(40);
    await s.outbox.close();
  });

  it('small requests (live flushes) go out whole', async () => {
    const s = setup({ batchSize: 10, maxRequestPoints: 40, minSplitPoints: 20, writeLanes: 2 });
    s.outbox.append(points(10));
    s.outbox.start();
    await s.timers.advance(0);
    expect(s.writer.bodies).toHaveLength(1);
    await s.outbox.close();
  });

  it('a retryable error in one lane keeps the whole group and resends it after the backoff', async () => {
    const s = setup({ batchSize: 10, maxRequestPoints: 40, minSplitPoints: 20, writeLanes: 2 });
    s.writer.replies.push('ok', new RetryableWriteError('HTTP 503', 'server'));
    s.outbox.append(points(40));
    s.outbox.start();
    await s.timers.advance(0);
    expect(s.store.totals().points).toBe(40);
    expect(await s.counter('outboxRetried')).toBe(40);
    await s.timers.advance(60_000);
    expect(s.store.totals().points).toBe(0);
    expect(s.writer.bodies.length).toBe(4);
    await s.outbox.close();
  });

  it('a permanent error in one lane resends the group batch by batch, unsplit, and dead-letters only the refused batch', async () => {
    const s = setup({ batchSize: 10, maxRequestPoints: 20, minSplitPoints: 20, writeLanes: 2 });
    s.writer.replies.push('ok', new PermanentWriteError('HTTP 400 bad', 400), 'ok', new PermanentWriteError('HTTP 400 bad', 400));
    s.outbox.append(points(20)); // batches of 10: 1..10, 11..20
    s.outbox.start();
    for (let i = 0; i < 5; i++) await s.timers.advance(0);
    expect(s.writer.bodies.slice(2).map((b) => b.split('\n').length)).toEqual([10, 10]); // solo, whole batches
    expect(await s.counter('outboxDeadLettered')).toBe(10);
    expect(s.store.totals().points).toBe(0);
    await s.outbox.close();
  });
});

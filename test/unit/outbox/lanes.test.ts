import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupBySeries, regroup, SERIES_BUCKETS, seriesBucket, splitIntoLanes, validCuts } from '../../../gateway/outbox/lanes.js';
import { toRequest } from '../../../gateway/outbox/request.js';
import type { StoredBatch } from '../../../gateway/outbox/store.js';
import { PermanentWriteError, RetryableWriteError } from '../../../gateway/sink/errors.js';
import { bodyText, type WriteBody } from '../../../gateway/sink/influx-writer.js';
import { splitLines } from '../../../gateway/sink/line-protocol.js';
import { pt, setup } from './outbox-setup.js';

/** The series key as InfluxDB reads it: up to the first unescaped space. */
const seriesOf = (line: string) => /^((?:[^ \\]|\\.)*)/.exec(line)![1]!;
const linesOf = (body: WriteBody) => splitLines(bodyText(body));
/** Lines of `lines` that belong to series `s`, in order. */
const ofSeries = (lines: readonly string[], s: string) => lines.filter((l) => seriesOf(l) === s);

// Names with escaped spaces and commas, non-ASCII (UTF-8 offsets differ from string offsets), and string fields
// with a newline inside the quotes (a byte-level split on "\n" would cut such a line in two).
const line = fc
  .tuple(
    fc.constantFrom('m', 'telemetry', 'we\\ ird', 'mé'),
    fc.constantFrom('a', 'b', 'c\\ d', 'e\\,f', 'g', '日本', 'ü\\ x'),
    fc.integer({ min: 0, max: 99 }),
    fc.constantFrom('', ',s="x"', ',s="a\nb"', ',s="ö \\" y"'),
    fc.integer({ min: 0, max: 5 }),
  )
  .map(([m, tag, v, str, t]) => `${m},d=${tag} v=${v}${str} ${t}`);

/** A stored batch as the SQLite store returns it: grouped with cuts, or (`damaged`) with cuts that fit nothing. */
function stored(id: number, lines: readonly string[], damaged: boolean): StoredBatch {
  const g = damaged ? { body: lines.join('\n'), cuts: new Uint32Array(0) } : groupBySeries(lines);
  const body = Buffer.from(g.body);
  return { id, createdMs: 0, points: lines.length, bytes: body.length, minTime: 0, maxTime: 0, body, cuts: g.cuts };
}

describe('groupBySeries (at commit)', () => {
  it('keeps every line, each series in order, and cuts the UTF-8 body exactly at the bucket borders', () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 80 }), (lines) => {
        const { body, cuts } = groupBySeries(lines);
        const bytes = Buffer.from(body);
        expect(validCuts(cuts, bytes.length)).toBe(true);
        const out = linesOf(bytes);
        expect([...out].sort()).toEqual([...lines].sort());
        for (const s of new Set(lines.map(seriesOf))) expect(ofSeries(out, s)).toEqual(ofSeries(lines, s));
        for (let b = 0; b < SERIES_BUCKETS; b++) {
          if (cuts[b + 1]! === cuts[b]!) continue;
          const inBucket = linesOf(bytes.subarray(cuts[b]!, cuts[b + 1]! - 1));
          expect(inBucket.length).toBeGreaterThan(0);
          for (const l of inBucket) expect(seriesBucket(l)).toBe(b);
        }
      }),
    );
  });

  it('a series always lands in the same bucket, whatever else the line holds', () => {
    expect(seriesBucket('m,d=a v=1 1')).toBe(seriesBucket('m,d=a v=2,s="x y" 99'));
    expect(seriesBucket('m,d=a\\ b v=1 1')).toBe(seriesBucket('m,d=a\\ b w=3 2'));
    const used = new Set(Array.from({ length: 1000 }, (_, i) => seriesBucket(`telemetry,device=dev-${i},gateway=g,sensor=s${i % 10} v=1 1`)));
    expect(used.size).toBe(SERIES_BUCKETS); // spread over every bucket
  });

  it('refuses cuts that do not fit the body', () => {
    const { body, cuts } = groupBySeries(['m,d=a v=1 1', 'm,d=b v=2 2', 'm,d=c v=3 3']);
    const n = Buffer.byteLength(body);
    expect(validCuts(cuts, n)).toBe(true);
    expect(validCuts(new Uint32Array(0), n)).toBe(false);
    expect(validCuts(cuts, n + 1)).toBe(false);
    expect(validCuts(cuts.subarray(1), n)).toBe(false);
    const swapped = Uint32Array.from(cuts);
    const b = swapped.findIndex((c) => c > 0);
    swapped[b - 1] = swapped[b]! + 1; // not ascending
    expect(validCuts(swapped, n)).toBe(false);
  });
});

describe('splitIntoLanes (at drain)', () => {
  it('loses, duplicates and reorders no line of a series, each series in one lane, grouped and damaged batches alike', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(line, { minLength: 1, maxLength: 30 }), fc.boolean()), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 8 }),
        (batches, lanes) => {
          const group = batches.map(([lines, damaged], i) => stored(i + 1, lines, damaged));
          const sent = batches.flatMap(([lines]) => lines);
          const parts = splitIntoLanes(group, lanes).map(linesOf);
          expect(parts.length).toBeLessThanOrEqual(lanes);
          expect(parts.every((p) => p.length > 0)).toBe(true);
          expect(parts.flat().sort()).toEqual([...sent].sort());
          const laneOf = new Map<string, number>();
          parts.forEach((p, i) => {
            for (const l of p) {
              expect(laneOf.get(seriesOf(l)) ?? i).toBe(i);
              laneOf.set(seriesOf(l), i);
            }
          });
          for (const [s, i] of laneOf) expect(ofSeries(parts[i]!, s)).toEqual(ofSeries(sent, s));
        },
      ),
    );
  });

  it('a batch whose cuts do not fit its body is grouped again from its lines', () => {
    const lines = ['m,d=a v=1 1', 'm,d=b v=2 2', 'm,d=a v=3 3'];
    const good = stored(1, lines, false);
    const bad = { ...good, cuts: Uint32Array.from(good.cuts!, (c, i) => (i === 0 ? c : c + 1)) };
    expect(splitIntoLanes([bad], 2).map(bodyText)).toEqual(splitIntoLanes([good], 2).map(bodyText));
    expect(regroup(Buffer.from(lines.join('\n'))).body.toString()).toBe(good.body.toString());
  });

  it('toRequest sends a small group, or any group without lanes, whole in stored order', () => {
    const group = [stored(1, ['m,d=a v=1 1', 'm,d=b v=2 2'], false), stored(2, ['m,d=c v=3 3'], true)];
    const whole = `${group[0]!.body.toString()}\nm,d=c v=3 3`;
    expect(toRequest(group, undefined).parts.map(bodyText)).toEqual([whole]);
    expect(toRequest(group, { lanes: 2, minSplitPoints: 4 }).parts.map(bodyText)).toEqual([whole]);
    expect(toRequest(group, { lanes: 1, minSplitPoints: 1 }).parts.map(bodyText)).toEqual([whole]);
    const split = toRequest(group, { lanes: 2, minSplitPoints: 3 });
    expect(split).toMatchObject({ lastId: 2, points: 3 });
    expect(split.parts.flatMap(linesOf).sort()).toEqual(['m,d=a v=1 1', 'm,d=b v=2 2', 'm,d=c v=3 3']);
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

  it('a drain over any lane count delivers every appended line once, each series in append order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 12 }),
        async (points, lanes, batchSize) => {
          const s = setup({ batchSize, maxRequestPoints: 40, minSplitPoints: 5, writeLanes: lanes });
          // Same series and time with a growing value: later versions of a window must follow earlier ones.
          s.outbox.append(points.map(([dev, t], i) => pt(i, { tags: { d: `dev-${dev}` }, time: t * 1000 })));
          s.outbox.flush();
          s.outbox.start();
          for (let i = 0; i < 40 && s.store.totals().points > 0; i++) await s.timers.advance(0);
          expect(s.store.totals().points).toBe(0);
          const sent = s.writer.bodies.flatMap(linesOf);
          const appended = points.map(([dev, t], i) => `m,d=dev-${dev} v=${i} ${t * 1000}`);
          expect([...sent].sort()).toEqual([...appended].sort());
          for (const dev of new Set(points.map(([d]) => d))) expect(ofSeries(sent, `m,d=dev-${dev}`)).toEqual(ofSeries(appended, `m,d=dev-${dev}`));
          await s.outbox.close();
        },
      ),
      { numRuns: 60 },
    );
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

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attribute } from '../../../gateway/outbox/attribute.js';
import { groupBySeries, splitIntoLanes, withNewlines } from '../../../gateway/outbox/lanes.js';
import type { StoredBatch } from '../../../gateway/outbox/store.js';
import { PermanentWriteError } from '../../../gateway/sink/errors.js';
import { bodyText } from '../../../gateway/sink/influx-writer.js';
import { splitLines } from '../../../gateway/sink/line-protocol.js';
import { pt, setup } from './outbox-setup.js';

function stored(id: number, lines: readonly string[]): StoredBatch {
  const g = groupBySeries(lines);
  const body = Buffer.from(g.body);
  return { id, createdMs: 0, points: lines.length, bytes: body.length, minTime: 0, maxTime: 0, body, cuts: g.cuts };
}

describe('attribute: refused line numbers of a request -> lines of its stored batches', () => {
  it('names, for any merge or lane split, exactly the lines the request refused', () => {
    const line = fc.tuple(fc.constantFrom('a', 'b', 'c', 'dé', 'e\\ f'), fc.integer({ min: 0, max: 99 })).map(([d, v]) => `m,d=${d} v=${v},s="x\ny" ${v}`);
    fc.assert(
      fc.property(
        fc.array(fc.array(line, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 4 }),
        fc.infiniteStream(fc.boolean()),
        (batches, lanes, coin) => {
          const group = batches.map((ls, i) => stored(i + 1, ls));
          const parts = lanes === 0 ? [withNewlines(group.map((b) => b.body))] : splitIntoLanes(group, lanes);
          const partLines = parts.map((p) => splitLines(bodyText(p)));
          const refused = partLines.map((ls) => ls.flatMap((_, i) => (coin.next().value ? [i] : [])));
          const byBatch = attribute(group, parts, refused)!;
          expect(byBatch).toBeDefined();
          const want = refused.flatMap((idx, p) => idx.map((i) => partLines[p]![i]!)).sort();
          const got = [...byBatch].flatMap(([id, idx]) => {
            const lines = splitLines(group[id - 1]!.body.toString());
            return idx.map((i) => lines[i]!);
          });
          expect(got.sort()).toEqual(want);
        },
      ),
    );
  });

  it('a range it cannot place (not cut from a stored body) gives undefined', () => {
    const group = [stored(1, ['m v=1 1'])];
    expect(attribute(group, [[Buffer.from('m v=1 1')]], [[0]])).toBeUndefined();
  });
});

describe('the drainer with a partial write of a merged request', () => {
  it('dead-letters exactly the refused lines, acknowledges the rest and sends nothing again', async () => {
    const { outbox, writer, timers, counter, store } = setup({ maxRequestPoints: 100 });
    outbox.append([1, 2, 3, 4, 5, 6, 7, 8].map((i) => pt(i))); // batches of 3: 1-3, 4-6, 7-8
    outbox.flush();
    // Lines 1 and 4 of the request (v=2 and v=5) refused, the others stored.
    writer.replies = [new PermanentWriteError('partial write of line protocol occurred: line 2: x; line 5: y', 400, [1, 4])];
    outbox.start();
    await timers.advance(0);
    expect(writer.bodies).toHaveLength(1);
    expect(store.totals().points).toBe(0);
    expect(await counter('pointsWritten')).toBe(6);
    expect(await counter('outboxDeadLettered')).toBe(2);
    expect(
      store
        .deadLetters(10)
        .map((d) => d.body)
        .sort(),
    ).toEqual(['m,d=x v=2 2000', 'm,d=x v=5 5000']);
    expect(store.deadLetters(10)[0]!.error).toMatch(/partial write of line protocol occurred/);
    await outbox.close();
  });

  it('lanes: a lane refusing named lines while the other stores all settles without a resend', async () => {
    const { outbox, writer, timers, counter, store } = setup({ batchSize: 10, maxRequestPoints: 40, minSplitPoints: 20, writeLanes: 2 });
    const points = Array.from({ length: 20 }, (_, i) => pt(i + 1, { tags: { d: `s${i % 5}` } }));
    outbox.append(points);
    outbox.flush();
    const refuse = (at: number) => async () => {
      const lines = splitLines(writer.bodies[at]!);
      const idx = lines.flatMap((l, i) => (/ v=(7|13) /.test(l) ? [i] : []));
      if (idx.length > 0) throw new PermanentWriteError('refused', 400, idx);
    };
    writer.replies = [refuse(0), refuse(1)];
    outbox.start();
    await timers.advance(0);
    expect(writer.bodies).toHaveLength(2);
    expect(store.totals().points).toBe(0);
    expect(await counter('pointsWritten')).toBe(18);
    expect(
      store
        .deadLetters(10)
        .flatMap((d) => d.body.split('\n'))
        .sort(),
    ).toEqual(['m,d=s1 v=7 7000', 'm,d=s2 v=13 13000']);
    await outbox.close();
  });
});

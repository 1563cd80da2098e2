import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AckTable } from '../../../gateway/broker/thread/ack-table.js';

const MAX_ID = 0xffffffff;
const next = (id: number) => (id === MAX_ID ? 1 : id + 1);

type Op =
  { readonly kind: 'set' } | { readonly kind: 'take'; readonly pick: number; readonly oldest: boolean } | { readonly kind: 'stray'; readonly id: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: 'set' as const }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('take' as const), pick: fc.nat(), oldest: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('stray' as const), id: fc.integer({ min: 1, max: MAX_ID }) }) },
);

describe('AckTable (the broker thread publishes waiting for their acknowledgement)', () => {
  it('answers like a Map for ids handed out in sequence (wrapping at 2^32 - 1) and taken in any order', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_ID }), fc.integer({ min: 1, max: 64 }), fc.array(op, { maxLength: 600 }), (start, slots, ops) => {
        const table = new AckTable<string>(slots);
        const model = new Map<number, string>();
        let id = start;
        for (const o of ops) {
          if (o.kind === 'set') {
            table.set(id, `v${id}`);
            model.set(id, `v${id}`);
            id = next(id);
          } else {
            const keys = [...model.keys()];
            const k = o.kind === 'stray' ? o.id : keys.length === 0 ? id : o.oldest ? keys[0]! : keys[o.pick % keys.length]!;
            const want = model.get(k);
            model.delete(k);
            expect(table.take(k)).toBe(want);
            expect(table.take(k)).toBeUndefined();
          }
          expect(table.size).toBe(model.size);
        }
        for (const [k, v] of model) expect(table.take(k)).toBe(v);
        expect(table.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps an id that stays unanswered while far more ids than its slots pass it', () => {
    const table = new AckTable<number>(4);
    table.set(1, -1);
    // A window of 3 in flight moves past 200k ids: the table grows to its bound, then the old id's slot is
    // wanted again and again, and what does not fit goes beside the table.
    let wrong = 0;
    for (let id = 2; id < 200_002; id++) {
      table.set(id, id);
      if (id >= 4 && table.take(id - 2) !== id - 2) wrong++;
    }
    expect(wrong).toBe(0);
    expect(table.size).toBe(3);
    expect(table.take(1)).toBe(-1);
    expect(table.take(200_000)).toBe(200_000);
    expect(table.take(200_001)).toBe(200_001);
    expect(table.size).toBe(0);
  });
});

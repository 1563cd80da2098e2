import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectSame, largestFitting, type Rec, recordBytes, reservedBytes, ringOf, take } from './publish-ring-support.js';

// MQTT topics are well-formed UTF-8, so lone surrogates (which cannot round-trip) are out of scope.
const roundTrips = (t: string) => Buffer.from(t, 'utf8').toString('utf8') === t;
const topicArb = fc
  .oneof(
    fc.constantFrom('', '/', 'devices/dev-1/telemetry', 'devices/dev-1/sensors/temp', 'capteur/température', '设备/温度', '🌡️/👨‍👩‍👧‍👦', '\u0080\u07ff\u0800\uffff'),
    fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 10 }),
    fc.string({ unit: 'binary', maxLength: 10 }),
    // Long runs of 3-byte characters: the case the 3-bytes-a-unit reservation exists for.
    fc.string({ unit: fc.integer({ min: 0x800, max: 0xd7ff }).map((c) => String.fromCharCode(c)), minLength: 20, maxLength: 60 }),
  )
  .filter((t) => t.length <= 60 && roundTrips(t));

type Size =
  | { readonly kind: 'small'; readonly n: number }
  | { readonly kind: 'permille'; readonly n: number }
  | { readonly kind: 'largest' }
  | { readonly kind: 'block'; readonly bytes: number };
const sizeArb: fc.Arbitrary<Size> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 48 }).map((n) => ({ kind: 'small' as const, n })) },
  // Whole records whose size divides the power-of-two rings, so records end exactly at the end of the ring and
  // exactly at the reader: the boundary cases of "full is not empty" that random sizes almost never meet.
  { weight: 3, arbitrary: fc.constantFrom(32, 64, 128, 256).map((bytes) => ({ kind: 'block' as const, bytes })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 1000 }).map((n) => ({ kind: 'permille' as const, n })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'largest' as const }) },
);

type Op =
  | {
      readonly op: 'push';
      readonly topic: number;
      readonly size: Size;
      readonly fill: number;
      readonly qos: number;
      readonly ackId: number;
      readonly retryAfterDrain: boolean;
    }
  | { readonly op: 'read'; readonly max: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('push' as const),
      topic: fc.nat(),
      size: sizeArb,
      fill: fc.nat({ max: 255 }),
      qos: fc.constantFrom(0, 1, 2),
      ackId: fc.oneof(fc.constant(0), fc.constant(0xffffffff), fc.nat({ max: 0xffffffff })),
      retryAfterDrain: fc.boolean(),
    }),
  },
  // Reads mostly take a few records, so the ring fills up and pushes meet a full ring; now and then one drains it.
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('read' as const),
      max: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.constant(1000) }),
    }),
  },
);

function payloadLength(size: Size, topic: string, largest: number): number {
  switch (size.kind) {
    case 'small':
      return Math.min(size.n, largest);
    case 'permille':
      return Math.floor((largest * size.n) / 1000);
    case 'largest':
      return largest;
    case 'block':
      return Math.max(0, Math.min(size.bytes - 16 - Buffer.byteLength(topic, 'utf8'), largest));
  }
}

describe('publish ring: model-based', () => {
  it('hands every accepted publish to the reader once, in order, unchanged; refuses only when the ring is (nearly) full', () => {
    const scenario = fc.record({
      capacity: fc.oneof(
        fc.constantFrom(1024, 2048, 4096),
        fc.integer({ min: 256, max: 1024 }).map((n) => n * 4),
      ),
      topics: fc.array(topicArb, { minLength: 1, maxLength: 6 }),
      ops: fc.array(opArb, { maxLength: 300, size: 'max' }),
    });
    fc.assert(
      fc.property(scenario, ({ capacity, topics, ops }) => {
        const { writer, reader } = ringOf(capacity);
        const largest = topics.map((t) => largestFitting(writer, t, capacity));
        const queue: Rec[] = [];
        // The one tail a wrap may leave unused is shorter than the reservation of the record that wrapped.
        let largestReserved = 0;

        const drain = () => {
          // One more than the model holds: a corrupt ring shows up as an extra record, not as a reader that never stops.
          expectSame(take(reader, queue.length + 1), queue.splice(0));
          expect(reader.isEmpty()).toBe(true);
        };
        const accept = (rec: Rec) => {
          queue.push(rec);
          largestReserved = Math.max(largestReserved, reservedBytes(rec.topic, rec.payload.length));
        };

        for (const o of ops) {
          if (o.op === 'read') {
            const want = queue.splice(0, Math.min(o.max, queue.length));
            expectSame(take(reader, o.max), want);
          } else {
            const ti = o.topic % topics.length;
            const topic = topics[ti]!;
            const max = largest[ti]!;
            const length = payloadLength(o.size, topic, max);
            const payload = Buffer.alloc(length);
            for (let i = 0; i < length; i++) payload[i] = (o.fill + i * 7) & 0xff;
            const rec: Rec = { topic, payload, qos: o.qos, ackId: o.ackId };
            expect(writer.fits(topic, payload)).toBe(true);
            if (writer.push(topic, payload, o.qos, o.ackId)) {
              accept(rec);
            } else {
              expect(queue.length).toBeGreaterThan(0);
              // Refusing is allowed only when unread records plus what the ring may waste (this push's reservation,
              // a skipped tail, the spare bytes that keep full distinct from empty) leave no room.
              const live = queue.reduce((sum, r) => sum + recordBytes(r), 0);
              const reserve = reservedBytes(topic, length);
              expect(live + reserve + Math.max(reserve, largestReserved) + 4).toBeGreaterThanOrEqual(capacity);
              if (o.retryAfterDrain) {
                drain();
                expect(writer.push(topic, payload, o.qos, o.ackId)).toBe(true);
                accept(rec);
              }
            }
          }
          expect(reader.isEmpty()).toBe(queue.length === 0);
        }
        drain();
      }),
      { numRuns: 300 },
    );
  });
});

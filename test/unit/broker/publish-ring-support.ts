import { expect } from 'vitest';
import { createRingBuffers, RingReader, RingWriter, type RingBuffers } from '../../../gateway/broker/thread/publish-ring.js';

/** A record read from the publish ring, its payload copied (the tests of publish-ring.test.ts and publish-ring.property.test.ts). */
export interface Rec {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: number;
  readonly ackId: number;
}

/** A ring of `capacity` bytes with its two ends. */
export function ringOf(capacity: number): { buffers: RingBuffers; writer: RingWriter; reader: RingReader } {
  const buffers = createRingBuffers(capacity);
  return { buffers, writer: new RingWriter(buffers), reader: new RingReader(buffers) };
}

/** Reads up to `max` records, copying each payload: the handler's Buffer is a view into the ring. */
export function take(reader: RingReader, max: number): Rec[] {
  const out: Rec[] = [];
  const n = reader.read(max, (topic, payload, qos, ackId) => out.push({ topic, payload: Buffer.from(payload), qos, ackId }));
  expect(n).toBe(out.length);
  return out;
}

export function expectSame(got: readonly Rec[], want: readonly Rec[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    const w = want[i]!;
    expect(g.topic).toBe(w.topic);
    expect(g.qos).toBe(w.qos);
    expect(g.ackId).toBe(w.ackId);
    expect(g.payload.equals(w.payload)).toBe(true);
  });
}

/** The largest payload `fits` accepts with this topic, found through `fits` itself rather than its formula. */
export function largestFitting(writer: RingWriter, topic: string, capacity: number): number {
  let lo = -1;
  let hi = capacity;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (writer.fits(topic, Buffer.alloc(mid))) lo = mid;
    else hi = mid;
  }
  return lo;
}

const align = (n: number) => (n + 3) & ~3;
/** Bytes a record occupies (layout in publish-ring.ts: 16-byte header, UTF-8 topic, payload, 4-byte aligned). */
export const recordBytes = (r: Rec) => align(16 + Buffer.byteLength(r.topic, 'utf8') + r.payload.length);
/** What push reserves before encoding the topic: 3 bytes per UTF-16 unit. */
export const reservedBytes = (topic: string, payloadLength: number) => align(16 + 3 * topic.length + payloadLength);

import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RingBuffers } from '../../../gateway/broker/thread/publish-ring.js';
import { expectSame, largestFitting, reservedBytes, ringOf, take } from './publish-ring-support.js';

/**
 * The publish ring's topic cache, waits, a handler that throws and records too large for it; its order and
 * accounting against a model over random pushes and reads: publish-ring.property.test.ts.
 */

describe('publish ring: topic cache', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('decodes a repeated topic once and hands out the same string', () => {
    const { writer, reader } = ringOf(1024);
    const topic = 'devices/dev-1/sensors/température';
    // `===` on strings compares contents, so identity is observed through the decodes the reader does.
    const decode = vi.spyOn(Buffer.prototype, 'toString');
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      expect(writer.push(topic, Buffer.from([i]), 1, i + 1)).toBe(true);
      expect(reader.read(10, (t) => seen.push(t))).toBe(1);
    }
    expect(seen).toEqual(Array(5).fill(topic));
    expect(decode.mock.calls.filter(([encoding]) => encoding === 'utf8')).toHaveLength(1);
  });

  it('reads back the right topic when more distinct topics than cache slots share them', () => {
    const { writer, reader } = ringOf(1024);
    const topicOf = (i: number) => (i % 3 === 0 ? `devices/d${i}/telemetry` : i % 3 === 1 ? `devices/d${i}/sensors/t` : `zone/é${i}/🌡️`);
    const count = 20_000;
    // Two passes: the second meets slots that hold other topics by then, so every lookup has to compare bytes.
    for (const pass of [0, 1]) {
      for (let i = 0; i < count; i++) {
        const topic = topicOf(pass === 0 ? i : count - 1 - i);
        expect(writer.push(topic, Buffer.from([i & 0xff]), 0, i)).toBe(true);
        const [got] = take(reader, 1);
        expect(got?.topic).toBe(topic);
      }
    }
  });

  it('tells apart topics that land in the same slot (same length, or one a prefix of the other)', () => {
    // The reader's slot function, copied so the test is sure to build colliding pairs.
    const slot = (s: string) => {
      const b = Buffer.from(s, 'utf8');
      let h = 0x811c9dc5 ^ b.length;
      for (const x of b) h = Math.imul(h ^ x, 0x01000193);
      return (h >>> 0) & 8191;
    };
    const collidingWith = (first: string, candidate: (i: number) => string) => {
      // One in 8192 candidates is expected to collide; the bound only keeps a changed hash from looping forever.
      for (let i = 1; i < 1_000_000; i++) if (slot(candidate(i)) === slot(first)) return candidate(i);
      throw new Error(`no topic found in the slot of ${first}`);
    };
    const sameLength = (i: number) => `devices/${i.toString(36).padStart(6, '0')}/telemetry`;
    const short = 'devices/dev-1/sensors/t';
    const pairs = [
      [sameLength(0), collidingWith(sameLength(0), sameLength)],
      // The longer one first: it sits in the slot when the shorter one, its prefix, is looked up.
      [collidingWith(short, (i) => `${short}${i.toString(36)}`), short],
    ] as const;
    const { writer, reader } = ringOf(1024);
    for (const [a, b] of pairs) {
      for (const t of [a, b, a, a, b, b, a]) {
        expect(writer.push(t, Buffer.alloc(0), 0, 0)).toBe(true);
        expect(take(reader, 1).map((r) => r.topic)).toEqual([t]);
      }
    }
  });
});

describe('publish ring: waiting', () => {
  const setup = () => ringOf(1024);

  it('resolves a wait on an empty ring when a publish arrives later', async () => {
    const { writer, reader } = setup();
    let resolved = false;
    const waiting = reader.waitForRecords().then(() => {
      resolved = true;
    });
    await nextMacrotask();
    expect(resolved).toBe(false);
    setTimeout(() => writer.push('devices/a/telemetry', Buffer.from('{}'), 1, 7), 5);
    await waiting;
    expectSame(take(reader, 10), [{ topic: 'devices/a/telemetry', payload: Buffer.from('{}'), qos: 1, ackId: 7 }]);
  });

  it('resolves at once when records are already waiting', async () => {
    const { writer, reader } = setup();
    expect(writer.push('t', Buffer.from([1]), 0, 0)).toBe(true);
    await reader.waitForRecords();
    expect(take(reader, 10)).toHaveLength(1);
  });

  it('a nap returns at once while records wait, and leaves them to be read', () => {
    const { writer, reader } = setup();
    expect(writer.push('devices/a/telemetry', Buffer.from('{}'), 0, 0)).toBe(true);
    const t0 = performance.now();
    // Had it blocked for its 20 s, the blocked thread would have run no timeout either: the clock tells.
    reader.nap(20_000);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(take(reader, 10)).toHaveLength(1);
  });

  it('wake() ends a pending wait without any record', async () => {
    const { reader } = setup();
    let resolved = false;
    const waiting = reader.waitForRecords().then(() => {
      resolved = true;
    });
    await nextMacrotask();
    expect(resolved).toBe(false);
    reader.wake();
    await waiting;
    expect(reader.isEmpty()).toBe(true);
  });

  it('carries publishes from a producer thread in order through many wraps', async () => {
    const { buffers, reader } = setup();
    const topics = ['devices/dev-1/telemetry', 'devices/dev-2/sensors/t', 'zone/température', '🌡️/1'];
    const count = 5000;
    const worker = startProducer(buffers, topics, count);
    const failed = new Promise<never>((_, reject) => {
      worker.once('error', (err) => {
        reader.wake();
        reject(err);
      });
    });
    let next = 0;
    try {
      while (next < count) {
        const n = reader.read(100, (topic, payload, qos, ackId) => {
          const i = next++;
          expect(topic).toBe(topics[i % topics.length]);
          expect(payload.readUInt32LE(0)).toBe(i);
          expect(payload.length).toBe(4 + (i % 50));
          expect(payload.subarray(4).every((b) => b === (i & 0xff))).toBe(true);
          expect(qos).toBe(i % 3);
          expect(ackId).toBe(i);
        });
        if (n === 0) await Promise.race([reader.waitForRecords(), failed]);
      }
      expect(reader.isEmpty()).toBe(true);
    } finally {
      await worker.terminate();
    }
  });
});

/** A producer thread running the real RingWriter (loaded through tsx: the worker sees the source, not dist/). */
function startProducer(buffers: RingBuffers, topics: readonly string[], count: number): Worker {
  const tsx = import.meta.resolve('tsx/esm/api');
  const ring = fileURLToPath(new URL('../../../gateway/broker/thread/publish-ring.ts', import.meta.url));
  const source = `
    const { workerData } = require('node:worker_threads');
    const { buffers, topics, count, tsx, ring, parent } = workerData;
    import(tsx).then(({ tsImport }) => tsImport(ring, parent)).then(({ RingWriter }) => {
      const writer = new RingWriter(buffers);
      const pause = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        const payload = Buffer.alloc(4 + (i % 50), i & 0xff);
        payload.writeUInt32LE(i, 0);
        // A full ring is backpressure: back off briefly and try again.
        while (!writer.push(topics[i % topics.length], payload, i % 3, i)) Atomics.wait(pause, 0, 0, 1);
      }
    });`;
  return new Worker(source, { eval: true, workerData: { buffers, topics, count, tsx, ring, parent: import.meta.url } });
}

describe('publish ring: a handler that throws', () => {
  it('consumes the record it was given and frees the ones read before, so the writer can reuse their room', () => {
    const capacity = 1024;
    const { writer, reader } = ringOf(capacity);
    // Records of 500, 20 and 20 bytes at 0, 500 and 520: a second 500-byte one has to wrap to 0, which it can do
    // only once the reader is past byte 504, i.e. past the record whose handler throws.
    const topic = 't';
    const big = Buffer.alloc(480, 1);
    expect(writer.push(topic, big, 0, 1)).toBe(true);
    expect(writer.push(topic, Buffer.from([2]), 1, 2)).toBe(true);
    expect(writer.push(topic, Buffer.from([3]), 1, 3)).toBe(true);
    expect(writer.push(topic, big, 0, 4)).toBe(false);
    const seen: number[] = [];
    expect(() =>
      reader.read(10, (_t, _p, _q, ackId) => {
        seen.push(ackId);
        if (ackId === 2) throw new Error('handler failed');
      }),
    ).toThrow('handler failed');
    expect(seen).toEqual([1, 2]);
    expect(writer.push(topic, big, 0, 4)).toBe(true);
    expect(take(reader, 10).map((r) => r.ackId)).toEqual([3, 4]);
    expect(reader.isEmpty()).toBe(true);
  });
});

describe('publish ring: records too large for the ring', () => {
  it('fits() is false past half the ring, and such a push is refused on an empty ring it would have to wrap', () => {
    const capacity = 1024;
    const { writer, reader } = ringOf(capacity);
    const topic = 'devices/dev-1/telemetry';
    const largest = largestFitting(writer, topic, capacity);
    expect(reservedBytes(topic, largest) + 8).toBeLessThanOrEqual(capacity / 2);
    expect(writer.fits(topic, Buffer.alloc(largest + 4))).toBe(false);
    expect(writer.fits(topic, Buffer.alloc(capacity / 2))).toBe(false);
    expect(writer.fits('', Buffer.alloc(capacity))).toBe(false);

    // Move both offsets past the middle, so the ring is empty but a big record could only go in by wrapping.
    const filler = Buffer.alloc(capacity / 2 + 64 - 16 - topic.length);
    expect(writer.push(topic, filler, 0, 0)).toBe(true);
    expect(take(reader, 1)).toHaveLength(1);
    expect(reader.isEmpty()).toBe(true);
    const oversized = Buffer.alloc(capacity / 2);
    expect(writer.push(topic, oversized, 0, 0)).toBe(false);
    expect(reader.isEmpty()).toBe(true);

    // A record that fits still goes in at that position (it wraps) and reads back intact.
    const ok = Buffer.alloc(largest, 0xab);
    expect(writer.push(topic, ok, 2, 9)).toBe(true);
    expectSame(take(reader, 10), [{ topic, payload: ok, qos: 2, ackId: 9 }]);
  });
});

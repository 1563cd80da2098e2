import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { limitSubscriptions, watchPacketSizes } from '../../../gateway/broker/limits.js';
import { remainingLength } from '../../support/mqtt-wire.js';

/** One MQTT packet: a header byte, the remaining length as MQTT encodes it, then that many body bytes. */
function packet(length: number): Buffer {
  return Buffer.concat([Buffer.from([0x30]), remainingLength(length), Buffer.alloc(length, 0xff)]);
}

/** Feeds `bytes` in chunks cut at `cuts`, read the way aedes reads (a 'readable' listener calling read()). */
function feed(bytes: Buffer, cuts: number[], max: number) {
  const s = new PassThrough();
  const seen: number[] = [];
  s.on('readable', () => {
    while (s.read() !== null);
  });
  watchPacketSizes(s, max, (declared) => seen.push(declared));
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let at = 0;
  for (const p of [...points, bytes.length]) {
    if (p > at) s.write(bytes.subarray(at, p));
    at = Math.max(at, p);
  }
  return { seen, destroyed: () => s.destroyed };
}

describe('watchPacketSizes', () => {
  it('flags exactly the first packet over the limit, however the stream is cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (lengths, cuts) => {
          const max = 200;
          const r = feed(Buffer.concat(lengths.map(packet)), cuts, max);
          await new Promise((res) => setImmediate(res));
          const firstTooLarge = lengths.find((l) => l > max);
          expect(r.seen).toEqual(firstTooLarge === undefined ? [] : [firstTooLarge]);
          expect(r.destroyed()).toBe(firstTooLarge !== undefined);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('decides from the length bytes alone, before the body arrives', async () => {
    const r = feed(Buffer.from([0x30, 0x80, 0x84, 0xaf, 0x5f]), [], 1000); // 200,000,000 in 4 length bytes
    await new Promise((res) => setImmediate(res));
    expect(r.seen).toEqual([200_000_000]);
    expect(r.destroyed()).toBe(true);
  });
});

describe('limitSubscriptions', () => {
  type Done = (err: Error | null, sub: unknown) => void;
  const client = {} as never;
  const ask = (authorize: (c: never, s: never, d: Done) => void, topic: string) =>
    new Promise<unknown>((res) => authorize(client, { topic, qos: 0 } as never, (_e, s) => res(s)));

  it('grants up to max distinct filters, re-grants held ones, frees on forget, and respects the inner hook', async () => {
    const refused: string[] = [];
    const inner = (_c: unknown, sub: { topic: string }, done: Done) => done(null, sub.topic.startsWith('no/') ? null : sub);
    const limit = limitSubscriptions(2, inner as never, (_c, t) => refused.push(t));
    const a = limit.authorizeSubscribe as unknown as (c: never, s: never, d: Done) => void;
    expect(await ask(a, 'no/1')).toBeNull(); // refused by the inner hook: takes no slot
    expect(await ask(a, 'a')).toMatchObject({ topic: 'a' });
    expect(await ask(a, 'b')).toMatchObject({ topic: 'b' });
    expect(await ask(a, 'a')).toMatchObject({ topic: 'a' });
    expect(await ask(a, 'c')).toBeNull();
    expect(refused).toEqual(['c']);
    limit.forget(client, ['a']);
    expect(await ask(a, 'c')).toMatchObject({ topic: 'c' });
  });
});

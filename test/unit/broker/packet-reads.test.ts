import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { patchReads } from '../../../gateway/broker/packet-reads.js';

/**
 * mqtt-packet's number reads through bl's get(): each read against bl's own, over lists split anywhere (empty
 * chunks too) and offsets in and out of range; and whole packets through mqtt-packet's parser, which the side
 * effect of the module changed, against the packets its generator was given.
 */

interface ByteList {
  readonly length: number;
  append(buf: Buffer): unknown;
  readUInt8(offset?: number): number;
  readUInt16BE(offset?: number): number;
  readUInt32BE(offset?: number): number;
}
interface BlModule {
  (): ByteList;
  prototype: Record<string, unknown>;
  BufferList: new () => ByteList;
}
interface Parser {
  on(event: 'packet', f: (p: Record<string, unknown>) => void): void;
  on(event: 'error', f: (e: Error) => void): void;
  parse(buf: Buffer): number;
}
interface MqttPacket {
  parser(opts?: { protocolVersion?: number }): Parser;
  generate(packet: Record<string, unknown>, opts?: { protocolVersion?: number }): Buffer;
}

const fromPacket = createRequire(createRequire(import.meta.resolve('aedes')).resolve('mqtt-packet'));
const bl = fromPacket(fromPacket.resolve('bl')) as BlModule;
const mqttPacket = fromPacket('mqtt-packet') as MqttPacket;

/** bl's BufferList with the patched reads on a prototype of its own; bl's BufferList keeps its own reads. */
class FastList extends bl.BufferList {}
expect(patchReads(FastList.prototype as unknown as Record<string, unknown>)).toBe(true);

const outcome = (f: () => number): { value: number } | { error: string } => {
  try {
    return { value: f() };
  } catch (err) {
    return { error: (err as Error).name };
  }
};

const chunksArb = fc.array(fc.uint8Array({ maxLength: 9 }), { maxLength: 6 });

describe('mqtt-packet number reads through bl get()', () => {
  it('the module patched the bl that mqtt-packet builds its lists with', () => {
    expect(bl.prototype['readUInt16BE']).not.toBe(bl.BufferList.prototype.readUInt16BE);
  });

  it('reads what bl reads, and fails where bl fails, at any offset of a list split anywhere', () => {
    fc.assert(
      fc.property(chunksArb, fc.integer({ min: -2, max: 40 }), (chunks, offset) => {
        const slow = new bl.BufferList();
        const fast = new FastList();
        for (const c of chunks) {
          slow.append(Buffer.from(c));
          fast.append(Buffer.from(c));
        }
        for (const m of ['readUInt8', 'readUInt16BE', 'readUInt32BE'] as const) {
          expect(outcome(() => fast[m](offset))).toEqual(outcome(() => slow[m](offset)));
        }
        expect(outcome(() => fast.readUInt8())).toEqual(outcome(() => slow.readUInt8()));
      }),
      { numRuns: 2000 },
    );
  });

  it('mqtt-packet parses publishes cut at any byte into the packets it generated (MQTT 3.1.1 and 5)', () => {
    const publishArb = fc.record({
      topic: fc.string({ minLength: 1, maxLength: 40 }).filter((t) => !t.includes('+') && !t.includes('#') && !t.includes('\0')),
      payload: fc.uint8Array({ maxLength: 300 }),
      qos: fc.constantFrom(0, 1, 2),
      messageId: fc.integer({ min: 1, max: 65535 }),
      retain: fc.boolean(),
      expiry: fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.constantFrom(4, 5),
        fc.array(publishArb, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (version, publishes, cuts) => {
          const packets = publishes.map((p) => ({
            cmd: 'publish',
            topic: p.topic,
            payload: Buffer.from(p.payload),
            qos: p.qos,
            retain: p.retain,
            dup: false,
            ...(p.qos > 0 ? { messageId: p.messageId } : {}),
            ...(version === 5 && p.expiry !== undefined ? { properties: { messageExpiryInterval: p.expiry } } : {}),
          }));
          const bytes = Buffer.concat(packets.map((p) => mqttPacket.generate(p, { protocolVersion: version })));
          const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const parser = mqttPacket.parser({ protocolVersion: version });
          const seen: Record<string, unknown>[] = [];
          parser.on('packet', (p) => seen.push(p));
          parser.on('error', (e) => {
            throw e;
          });
          let from = 0;
          for (const to of [...at, bytes.length]) {
            parser.parse(bytes.subarray(from, to));
            from = to;
          }
          expect(
            seen.map((p) => [
              p['topic'],
              Buffer.from(p['payload'] as Buffer).toString('hex'),
              p['qos'],
              p['retain'],
              p['messageId'],
              (p['properties'] as Record<string, unknown> | undefined)?.['messageExpiryInterval'],
            ]),
          ).toEqual(
            packets.map((p) => [
              p.topic,
              p.payload.toString('hex'),
              p.qos,
              p.retain,
              p.messageId,
              (p as { properties?: { messageExpiryInterval?: number } }).properties?.messageExpiryInterval,
            ]),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});

import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import '../../../gateway/broker/packet-writes.js';

/**
 * mqtt-packet's writer as aedes loads it, after the side effect of packet-writes.ts: no table of numbers, and every
 * packet written byte for byte what mqtt-packet's own generate() makes of it (a separate code path, which builds
 * one Buffer per packet), for packet ids and topic lengths over the whole 16-bit range.
 */
interface MqttPacket {
  generate(packet: Record<string, unknown>, opts?: { protocolVersion?: number }): Buffer;
  writeToStream: ((packet: Record<string, unknown>, stream: Writable, opts?: { protocolVersion?: number }) => boolean) & { cacheNumbers: boolean };
}

const mqttPacket = createRequire(import.meta.resolve('aedes'))('mqtt-packet') as MqttPacket;

function written(packet: Record<string, unknown>, protocolVersion: number): Buffer {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  mqttPacket.writeToStream(packet, sink, { protocolVersion });
  sink.uncork(); // writeToStream corks the stream and uncorks on the next tick
  return Buffer.concat(chunks);
}

describe("aedes' mqtt-packet writer without its table of numbers", () => {
  it('is switched off', () => {
    expect(mqttPacket.writeToStream.cacheNumbers).toBe(false);
  });

  it('writes every packet as generate() does', () => {
    const id = fc.integer({ min: 1, max: 65_535 });
    const topic = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('a'.repeat(300), 'b'.repeat(65_535)));
    const packet = fc.oneof(
      fc.record({
        cmd: fc.constant('publish'),
        topic,
        payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
        qos: fc.constantFrom(1, 2),
        messageId: id,
        retain: fc.boolean(),
        dup: fc.boolean(),
      }),
      fc.record({
        cmd: fc.constant('publish'),
        topic,
        payload: fc.constant(Buffer.from('x')),
        qos: fc.constant(0),
        retain: fc.boolean(),
        dup: fc.constant(false),
      }),
      fc.record({ cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp'), messageId: id }),
      fc.record({ cmd: fc.constant('suback'), messageId: id, granted: fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 4 }) }),
      fc.record({ cmd: fc.constant('connack'), returnCode: fc.constantFrom(0, 5), sessionPresent: fc.boolean() }),
    );
    fc.assert(
      fc.property(packet, fc.constantFrom(4, 5), (p, protocolVersion) => {
        const v5 = protocolVersion === 5 && p.cmd === 'connack' ? { ...p, reasonCode: p.returnCode } : p;
        expect(written(v5, protocolVersion).equals(mqttPacket.generate(v5, { protocolVersion }))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

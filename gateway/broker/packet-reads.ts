import { createRequire } from 'node:module';
import { resolveInMqttPacket } from './mqtt-packet-deps.js';

/**
 * Number reads of mqtt-packet's parser without a Buffer per read, for the thread that parses MQTT. The parser keeps
 * what a socket delivered in a `bl` BufferList and reads a packet's first byte, its remaining length, its topic
 * length and its packet id with readUInt8 / readUInt16BE (readUInt32BE for MQTT 5 properties). bl 6 implements
 * each read as `this.slice(offset, offset + n)[method](0)`: a new Buffer view and an offset array per read, 3-4
 * per PUBLISH. A sampled allocation profile of the broker thread at 32,000 paced publishes/s put a quarter of its
 * garbage in bl's slice (BENCHMARKS.md, "mqtt-packet's number reads"); the broker thread collects its young
 * generation ~26 times a second at that rate.
 *
 * These reads take the bytes with `get(index)`, bl's documented byte access (bl README, "bl.get(index)"), when
 * they lie within the list, and leave any other read (past the end: bl's RangeError) to bl's own method, so
 * every result and every error is bl's. A side-effect module like quiet-debug.ts: import it before anything that
 * loads aedes; with another bl than the one expected, nothing changes.
 */
interface ByteList {
  readonly length: number;
  get(index: number): number | undefined;
}

type Read = (this: ByteList, offset?: number) => number;

const inRange = (list: ByteList, offset: number, n: number): boolean => Number.isInteger(offset) && offset >= 0 && offset + n <= list.length;

/** Replaces the three reads on `proto` (a BufferList prototype); false when it lacks them. */
export function patchReads(proto: Record<string, unknown>): boolean {
  const read8 = proto['readUInt8'];
  const read16 = proto['readUInt16BE'];
  const read32 = proto['readUInt32BE'];
  if (typeof read8 !== 'function' || typeof read16 !== 'function' || typeof read32 !== 'function' || typeof proto['get'] !== 'function') return false;
  const slow8 = read8 as Read;
  const slow16 = read16 as Read;
  const slow32 = read32 as Read;
  // get() is undefined for a byte it cannot find (bl's offset 0 is its first buffer, even an empty one): bl decides.
  const fast8: Read = function (this: ByteList, offset = 0) {
    const a = inRange(this, offset, 1) ? this.get(offset) : undefined;
    return a === undefined ? slow8.call(this, offset) : a;
  };
  const fast16: Read = function (this: ByteList, offset = 0) {
    if (!inRange(this, offset, 2)) return slow16.call(this, offset);
    const a = this.get(offset);
    const b = this.get(offset + 1);
    return a === undefined || b === undefined ? slow16.call(this, offset) : (a << 8) | b;
  };
  const fast32: Read = function (this: ByteList, offset = 0) {
    if (!inRange(this, offset, 4)) return slow32.call(this, offset);
    const a = this.get(offset);
    const b = this.get(offset + 1);
    const c = this.get(offset + 2);
    const d = this.get(offset + 3);
    if (a === undefined || b === undefined || c === undefined || d === undefined) return slow32.call(this, offset);
    // The top byte times 2^24, not shifted: a shift would make it a negative int32.
    return a * 0x1000000 + ((b << 16) | (c << 8) | d);
  };
  proto['readUInt8'] = fast8;
  proto['readUInt16BE'] = fast16;
  proto['readUInt32BE'] = fast32;
  return true;
}

// mqtt-packet builds its lists with bl(), a BufferListStream, whose prototype has BufferList's methods copied onto it.
const blFile = resolveInMqttPacket('bl');
const bl = blFile === undefined ? undefined : (createRequire(import.meta.url)(blFile) as { prototype?: unknown });
if (bl !== undefined && typeof bl.prototype === 'object' && bl.prototype !== null) patchReads(bl.prototype as Record<string, unknown>);

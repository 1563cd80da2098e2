/**
 * Just enough MQTT 3.1.1 encoding for raw-socket clients: the bench's load generator (packets built once and
 * patched in place, so it spends its core on the socket and not on a client library) and the protocol-abuse tests
 * (packets a well-behaved client library would never send).
 */

/** Remaining length as MQTT encodes it: 7 bits a byte, least significant first [MQTT-2.2.3]. */
export function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

/** A length-prefixed string [MQTT-1.5.3]; a Buffer goes as it is (the tests' ill-formed UTF-8). */
function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function packet(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

/** CONNECT, MQTT 3.1.1, clean session; keep-alive off by default [MQTT-3.1.2-22: 0 turns the mechanism off]. */
export function connectPacket(clientId: string, keepAliveSeconds = 0): Buffer {
  const variable = Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, keepAliveSeconds >> 8, keepAliveSeconds & 0xff])]);
  return packet(0x10, Buffer.concat([variable, str(clientId)]));
}

export interface PublishTemplate {
  readonly bytes: Buffer;
  /** Offset of the 2-byte packet id (QoS 1), or -1. */
  readonly idAt: number;
  /** Offset of the payload inside `bytes`. */
  readonly payloadAt: number;
}

export function publishPacket(topic: string | Buffer, payload: string, qos: 0 | 1, encoding: BufferEncoding = 'utf8'): PublishTemplate {
  const t = str(topic);
  const p = Buffer.from(payload, encoding);
  const body = Buffer.concat([t, qos === 1 ? Buffer.from([0, 1]) : Buffer.alloc(0), p]);
  const bytes = packet(qos === 1 ? 0x32 : 0x30, body);
  const headerLen = bytes.length - body.length;
  return { bytes, idAt: qos === 1 ? headerLen + t.length : -1, payloadAt: headerLen + t.length + (qos === 1 ? 2 : 0) };
}

/** One SUBSCRIBE to these filters at the given QoS [MQTT-3.8]. */
export function subscribePacket(filters: readonly (string | Buffer)[], id = 1, qos: 0 | 1 = 0): Buffer {
  const body = Buffer.concat([Buffer.from([id >> 8, id & 0xff]), ...filters.map((f) => Buffer.concat([str(f), Buffer.from([qos])]))]);
  return packet(0x82, body);
}

/** Writes `n` as exactly `width` ASCII digits at `at` (n must fit). */
export function writeDigits(buf: Buffer, at: number, width: number, n: number): void {
  for (let i = at + width - 1; i >= at; i--) {
    const q = Math.floor(n / 10);
    buf[i] = 48 + (n - q * 10);
    n = q;
  }
}

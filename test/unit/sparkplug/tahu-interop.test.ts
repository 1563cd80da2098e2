import { describe, expect, it } from 'vitest';
import { decodePayload, decodePayloadFull } from '../../../gateway/sparkplug/codec.js';
import { metricNumber } from '../../../gateway/sparkplug/datatypes.js';

/**
 * A payload encoded by Eclipse Tahu's npm `sparkplug-payload` 1.0.3, the encoder of `sparkplug-client` 3.2.4 (not a
 * dependency: it needs mqtt 4 and protobufjs 6). Made with:
 *   const enc = require('sparkplug-payload').get('spBv1.0');
 *   enc.encodePayload({ timestamp: 1733400000000, seq: 5, metrics: [
 *     { name: 'i8', type: 'Int8', value: -5 }, { name: 'i16', type: 'Int16', value: -300 }, { name: 'i32', type: 'Int32', value: -70000 },
 *     { name: 'i64', type: 'Int64', value: -9000000000 }, { name: 'u8', type: 'UInt8', value: 200 }, { name: 'u16', type: 'UInt16', value: 60000 },
 *     { name: 'u32', type: 'UInt32', value: 4000000000 }, { name: 'u64', type: 'UInt64', value: 9000000000 }, { name: 'f', type: 'Float', value: 1.5 },
 *     { name: 'd', type: 'Double', value: 2.25 }, { name: 'b', type: 'Boolean', value: true }, { name: 's', type: 'String', value: 'x' },
 *     { name: 'dt', type: 'DateTime', value: 1733400000123 }, { name: 'Motor/Speed', alias: 7, type: 'Double', value: 3.5, timestamp: 1733400000001 } ] })
 */
const TAHU =
  'CIDsw7W5MhIMCgJpOCABUPv///8PEg0KA2kxNiACUNT9//8PEg0KA2kzMiADUJDd+/8PEhIKA2k2NCAEWIDMu7ze/////wESCQoCdTggBVDIARILCgN1MTYgBlDg1AMSDQoDdTMyIAdYgNCs8w4SDQoDdTY0IAhYgLTEwyESCgoBZiAJZQAAwD8SDgoBZCAKaQAAAAAAAAJAEgcKAWIgC3ABEggKAXMgDHoBeBINCgJkdCANWPvsw7W5MhIhCgtNb3Rvci9TcGVlZBAHGIHsw7W5MiAKaQAAAAAAAAxAGAU=';

describe('interoperability with Eclipse Tahu', () => {
  it("decodes every scalar datatype as Tahu encodes it (UInt32 in long_value, signed ints as two's complement)", () => {
    const bytes = Buffer.from(TAHU, 'base64');
    const d = decodePayload(bytes);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect({ ts: d.payload.timestamp, seq: d.payload.seq }).toEqual({ ts: 1733400000000, seq: 5 });
    expect(d.payload.metrics.map((m) => [m.name, metricNumber(m.datatype!, m.value)])).toEqual([
      ['i8', -5],
      ['i16', -300],
      ['i32', -70000],
      ['i64', -9000000000],
      ['u8', 200],
      ['u16', 60000],
      ['u32', 4000000000],
      ['u64', 9000000000],
      ['f', 1.5],
      ['d', 2.25],
      ['b', 1],
      ['s', 'string'],
      ['dt', 1733400000123],
      ['Motor/Speed', 3.5],
    ]);
    expect(d.payload.metrics.at(-1)).toMatchObject({ alias: 7, timestamp: 1733400000001 });
    const full = decodePayloadFull(bytes);
    expect(full.ok && full.payload).toEqual(d.payload);
  });
});

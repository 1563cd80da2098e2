import { describe, expect, it } from 'vitest';
import { ByteFormatError, ByteWriter } from '../../../gateway/persist/byte-codec.js';
import { FORMATS } from '../../../gateway/persist/formats.js';
import { writeHeader } from '../../../gateway/persist/frame.js';
import { nameKey, newEdgeNode } from '../../../gateway/sparkplug/edge-node.js';
import { decodeHostSnapshot, encodeHostSnapshot } from '../../../gateway/sparkplug/host-snapshot.js';
import { bdSeq, dbl, payload, recordingHost } from './host-helpers.js';

/** A blob of the host snapshot's frame with `body` written after the header (to build malformed parts). */
function blob(body: (w: ByteWriter) => void, format: { name: string; magic: string; version: number } = FORMATS.sparkplugSnapshot): Buffer {
  const w = new ByteWriter(64);
  writeHeader(w, format);
  body(w);
  return w.finish();
}

/** One node: group, edge, flags, then `tail` (device, alias, name and missing lists, rebirth flag and count). */
const node = (w: ByteWriter, flags: number, tail: (w: ByteWriter) => void = () => {}) => {
  w.str('g');
  w.str('e');
  w.u8(flags);
  tail(w);
};
/** The empty lists and the absent rebirth of a node, after its flags. */
const emptyTail = (x: ByteWriter) => (x.uvar(0), x.uvar(0), x.uvar(0), x.uvar(0), x.u8(0), x.uvar(0));

describe('Sparkplug checkpoint part (FORMATS.sparkplugSnapshot)', () => {
  it('round-trips sessions, devices and alias maps; DATA decodes after a restore', () => {
    const a = recordingHost();
    a.host.handle('NBIRTH', 'g', 'e', undefined, payload(0, [bdSeq(7), dbl('Temp', 1, 1)]), 1);
    a.host.handle('DBIRTH', 'g', 'e', 'd', payload(1, [dbl('Motor/Speed', 2, 1)]), 1);
    const bytes = encodeHostSnapshot(a.host.edgeNodes());
    expect(bytes.subarray(0, 5).equals(Buffer.from([0x47, 0x57, 0x53, 0x50, 1]))).toBe(true); // 'GWSP', version 1
    const b = recordingHost();
    b.host.restore(decodeHostSnapshot(bytes));
    b.host.handle('DDATA', 'g', 'e', 'd', payload(2, [dbl(undefined, 2, 5)]), 2);
    expect(b.data).toEqual([{ device: 'g/e/d', names: ['Motor/Speed'], payloadTs: undefined }]);
    expect(b.rebirths).toEqual([]);
    b.host.handle('NDEATH', 'g', 'e', undefined, payload(undefined, [bdSeq(7)]), 3);
    expect(b.stale).toEqual(['g/e', 'g/e/d']);
  });

  it('keeps every field it carries, absent ones included, and what is in flight (seqs awaited, rebirth backoff)', () => {
    const n = newEdgeNode('plant 1', 'Émile');
    n.online = false;
    n.devices.set('d1', true).set('d2', false);
    n.aliases.set(0, { device: undefined, name: 'bdSeq', datatype: 4 }).set(2 ** 40, { device: 'd1', name: 'Motor/Speed', datatype: 10 });
    n.names.set(nameKey(undefined, 'Temp'), 9).set(nameKey('d2', 'Flow'), 10);
    n.missing.set(4, 99);
    n.rebirthAt = 5;
    n.rebirths = 2;
    const m = newEdgeNode('g', 'e');
    m.online = true;
    m.bdSeq = 255;
    m.lastSeq = 0;
    const [n2, m2, ...rest] = decodeHostSnapshot(encodeHostSnapshot([n, m]));
    expect(rest).toEqual([]);
    expect(n2).toEqual(n);
    expect(m2).toEqual(m);
    expect(decodeHostSnapshot(encodeHostSnapshot([]))).toEqual([]);
  });

  it('refuses a part that is not a version 1 host snapshot, or is damaged', () => {
    const good = encodeHostSnapshot([newEdgeNode('g', 'e')]);
    const flipped = Buffer.from(good);
    flipped[6] = flipped[6]! ^ 1;
    expect(() => decodeHostSnapshot(flipped)).toThrow(/checksum/);
    expect(() => decodeHostSnapshot(good.subarray(0, 3))).toThrow(ByteFormatError);
    expect(() => decodeHostSnapshot(new Uint8Array(0))).toThrow(ByteFormatError);
    expect(() => decodeHostSnapshot(encodeHostSnapshotAs(FORMATS.alertSnapshot))).toThrow(/not a binary sparkplug host snapshot/);
    expect(() => decodeHostSnapshot(encodeHostSnapshotAs({ ...FORMATS.sparkplugSnapshot, version: 2 }))).toThrow(/unknown version 2/);
    expect(() => decodeHostSnapshot(blob((w) => (w.uvar(1), node(w, 8, emptyTail))))).toThrow(/bad node flags 8/);
    expect(() => decodeHostSnapshot(blob((w) => (w.uvar(1), node(w, 0, (x) => (x.uvar(1), x.str('d'), x.u8(2), x.uvar(0), x.uvar(0))))))).toThrow(
      /device online flag 2/,
    );
    expect(() => decodeHostSnapshot(blob((w) => (w.uvar(1_000_000), node(w, 0))))).toThrow(/exceeds the remaining/);
    expect(() => decodeHostSnapshot(blob((w) => (w.uvar(1), node(w, 0, (x) => (x.uvar(0), x.uvar(0), x.uvar(0), x.uvar(0), x.u8(3), x.uvar(0))))))).toThrow(
      /rebirthAt flag 3/,
    );
    expect(() => decodeHostSnapshot(blob((w) => (w.uvar(2), node(w, 0, emptyTail), node(w, 0, emptyTail))))).toThrow(/twice/);
    expect(() => decodeHostSnapshot(blob((w) => (w.uvar(0), w.u8(0))))).toThrow(/trailing bytes/);
  });
});

/** An empty host snapshot framed as another format (wrong magic or version). */
function encodeHostSnapshotAs(format: { name: string; magic: string; version: number }): Buffer {
  return blob((w) => w.uvar(0), format);
}

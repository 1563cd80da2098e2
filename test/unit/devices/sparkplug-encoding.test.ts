import { describe, expect, it } from 'vitest';
import { sparkplugEncoding } from '../../../devices/sim/sparkplug-encoding.js';
import { decodePayload, encodePayload } from '../../../gateway/sparkplug/codec.js';
import { DataType } from '../../../gateway/sparkplug/datatypes.js';

const decode = (b: Buffer) => {
  const d = decodePayload(b);
  if (!d.ok) throw new Error(d.detail);
  return d.payload;
};
const bdSeqOf = (b: Buffer | string | undefined) => {
  const m = decode(Buffer.from(b as Buffer)).metrics.find((x) => x.name === 'bdSeq')!;
  return m.value.case === 'longValue' ? Number(m.value.value) : -1;
};

describe('simulate --sparkplug: the edge node encoding', () => {
  it("births on each connection carry the bdSeq of that connection's will; the next will the next bdSeq", () => {
    const e = sparkplugEncoding('lab', ['t', 'h']);
    expect(bdSeqOf(e.connectOptions('n1').will!.payload)).toBe(0);
    const first = e.connected('n1', 1000);
    expect(first.publishes.map((p) => p.topic)).toEqual(['spBv1.0/lab/NBIRTH/n1', 'spBv1.0/lab/DBIRTH/n1/n1']);
    expect(bdSeqOf(first.publishes[0]!.payload)).toBe(0);
    expect(bdSeqOf(first.nextWill!.payload)).toBe(1);
    const dbirth = decode(first.publishes[1]!.payload);
    expect(dbirth.seq).toBe(1);
    expect(dbirth.metrics.map((m) => [m.name, m.alias, m.datatype, m.isNull])).toEqual([
      ['t', 1, DataType.Double, true],
      ['h', 2, DataType.Double, true],
    ]);
    expect(bdSeqOf(e.connected('n1', 2000).publishes[0]!.payload)).toBe(1);
  });

  it('DDATA by alias with seq going on; a resend is the same bytes; a backlog is historical', () => {
    const e = sparkplugEncoding('lab', ['t', 'h']);
    e.connected('n1', 0);
    const m1 = { ts: 1_733_400_000_000, seq: 0, readings: { t: 20, h: 50 } };
    const [a] = e.encode('n1', { payload: m1, kind: 'live' });
    const [again] = e.encode('n1', { payload: m1, kind: 'duplicate' });
    expect(again).toBe(a);
    const p = decode(a!.payload);
    expect(a!.topic).toBe('spBv1.0/lab/DDATA/n1/n1');
    expect(p).toMatchObject({ seq: 2, timestamp: m1.ts });
    expect(p.metrics.map((m) => [m.alias, m.value.value, m.historical])).toEqual([
      [1, 20, false],
      [2, 50, false],
    ]);
    const backlog = e.encode('n1', {
      payload: [
        { ts: m1.ts + 1, seq: 1, readings: { t: 21, h: 51 } },
        { ts: m1.ts + 2, seq: 2, readings: { t: 22, h: 52 } },
      ],
      kind: 'backlog',
    });
    expect(backlog.map((x) => decode(x.payload).seq)).toEqual([3, 4]);
    expect(backlog.every((x) => decode(x.payload).metrics.every((m) => m.historical))).toBe(true);
  });

  it('answers a Node Control/Rebirth NCMD with births of the current bdSeq, seq from 0', () => {
    const e = sparkplugEncoding('lab', ['t']);
    e.connected('n1', 0);
    e.connected('n1', 1); // a reconnection: bdSeq 1 now
    const ncmd = Buffer.from(
      encodePayload({ timestamp: 5, metrics: [{ name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: { case: 'booleanValue', value: true } }] }),
    );
    const out = e.command('n1', 'spBv1.0/lab/NCMD/n1', ncmd, 10);
    expect(out.map((x) => [x.topic, decode(x.payload).seq])).toEqual([
      ['spBv1.0/lab/NBIRTH/n1', 0],
      ['spBv1.0/lab/DBIRTH/n1/n1', 1],
    ]);
    expect(bdSeqOf(out[0]!.payload)).toBe(1);
    expect(e.command('n1', 'spBv1.0/lab/NCMD/n1', Buffer.from('junk'), 10)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { ConnectionCounts } from '../../../gateway/broker/connection-counts.js';
import { RetainedBudget } from '../../../gateway/broker/retained-budget.js';
import { topicProblem } from '../../../gateway/broker/topic-check.js';

/** Decodes raw topic bytes the way mqtt-packet does before aedes sees them. */
const decoded = (bytes: number[]) => Buffer.from(bytes).toString('utf8');

describe('topicProblem: [MQTT-1.5.3-1] well-formed UTF-8, [MQTT-1.5.3-2] no U+0000', () => {
  it('accepts ASCII and well-formed multi-byte topics', () => {
    for (const t of ['devices/d1/telemetry', 'a', 'capteurs/température', '温度/1', 'emoji/😀', 'x/\u007f']) expect(topicProblem(t)).toBeUndefined();
  });

  it('refuses U+0000 and every ill-formed sequence as mqtt-packet decodes it', () => {
    expect(topicProblem('devices/d1\u0000/telemetry')).toBe('null character');
    const ill: number[][] = [
      [0x61, 0x80, 0x62], // stray continuation byte
      [0x61, 0xc0, 0xaf], // overlong '/'
      [0xed, 0xa0, 0x80], // encoded surrogate U+D800
      [0x61, 0xe2, 0x82], // truncated sequence
      [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
      [0xff],
    ];
    for (const bytes of ill) expect(topicProblem(decoded(bytes))).toBe('ill-formed UTF-8');
  });
});

describe('RetainedBudget', () => {
  it('admits new topics up to the count, then updates and deletes only', () => {
    const b = new RetainedBudget(2, Infinity);
    expect(b.admit('a', 10)).toBe(true);
    expect(b.admit('b', 10)).toBe(true);
    expect(b.admit('c', 10)).toBe(false);
    expect(b.admit('a', 20)).toBe(true); // an update of a held topic
    expect(b.admit('c', 0)).toBe(true); // a delete of a topic not held: always fine
    expect(b.admit('a', 0)).toBe(true); // a delete frees its slot
    expect(b.admit('c', 10)).toBe(true);
    expect(b.messages).toBe(2);
  });

  it('counts topic and payload bytes; an update may not grow past the bound', () => {
    const b = new RetainedBudget(100, 30);
    expect(b.admit('t1', 10)).toBe(true); // 12 bytes
    expect(b.admit('t2', 10)).toBe(true); // 24
    expect(b.admit('t3', 10)).toBe(false); // would be 36
    expect(b.admit('t1', 16)).toBe(true); // 24 - 12 + 18 = 30
    expect(b.admit('t1', 17)).toBe(false);
    expect(b.storedBytes).toBe(30);
    expect(b.admit('é', 1)).toBe(false); // 2 bytes of topic in UTF-8 + 1 > room of 0
    expect(b.admit('t2', 0)).toBe(true);
    expect(b.storedBytes).toBe(18);
    expect(b.admit('t3', 10)).toBe(true);
  });
});

describe('RetainedBudget.restore: what the disk store held at start', () => {
  it("counts clients' retained messages restored at start, so new topics are refused once they fill the bounds", () => {
    const b = new RetainedBudget(2, Infinity);
    b.restore('devices/a/state', 10);
    b.restore('devices/b/state', 10);
    expect(b.messages).toBe(2);
    expect(b.storedBytes).toBe(2 * (15 + 10));
    expect(b.admit('devices/c/state', 10)).toBe(false);
    expect(b.admit('devices/a/state', 20)).toBe(true); // an update of a restored topic
    expect(b.admit('devices/b/state', 0)).toBe(true); // a delete frees its slot
    expect(b.admit('devices/c/state', 10)).toBe(true);
  });

  it("keeps what it restores even beyond lowered bounds, and leaves out the gateway's own retained topics", () => {
    const b = new RetainedBudget(1, Infinity);
    b.restore('devices/a/state', 1);
    b.restore('devices/b/state', 1);
    b.restore('alerts/gh-1/temperature/frost', 50);
    b.restore('spBv1.0/STATE/gw-1', 20);
    expect(b.messages).toBe(2);
    expect(b.admit('devices/c/state', 1)).toBe(false);
  });
});

describe('ConnectionCounts', () => {
  it('takes up to max slots per key and gives them back when the connection closes', () => {
    const c = new ConnectionCounts(2);
    const conns = [0, 1, 2].map(() => {
      const listeners: (() => void)[] = [];
      return { destroyed: false, once: (_e: 'close', f: () => void) => listeners.push(f), close: () => listeners.forEach((f) => f()) };
    });
    expect(c.takeFor('10.0.0.1', conns[0]!)).toBe(true);
    expect(c.takeFor('10.0.0.1', conns[1]!)).toBe(true);
    expect(c.takeFor('10.0.0.1', conns[2]!)).toBe(false);
    expect(c.takeFor('10.0.0.2', conns[2]!)).toBe(true);
    conns[0]!.close();
    expect(c.count('10.0.0.1')).toBe(1);
    expect(c.take('10.0.0.1')).toBe(true);
    // A connection that closed before it was admitted takes no slot (its close event is gone).
    expect(c.takeFor('10.0.0.3', { destroyed: true, once: () => {} })).toBe(true);
    expect(c.count('10.0.0.3')).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import type { IngestGate } from '../../../gateway/broker/front.js';
import * as codecModule from '../../../gateway/sparkplug/codec.js';
import { LazySparkplugCodec } from '../../../gateway/sparkplug/lazy-codec.js';

type Call = { topic: string; payload: string; qos: number; receivedAt: number };

/** The gateway's gate as a recorder: what reached it, in order; `done` is called at once (null). */
function recorder(): { gate: IngestGate; calls: Call[] } {
  const calls: Call[] = [];
  return { calls, gate: (topic, payload, qos, receivedAt, done) => (calls.push({ topic, payload: payload.toString(), qos, receivedAt }), done(null)) };
}

const spb = 'spBv1.0/plant/NDATA/edge-1';
const json = 'devices/d1/telemetry';

describe('LazySparkplugCodec: the Sparkplug codec loaded after start-up', () => {
  it('passes publishes through until a spBv1.0 one; from it on holds all, in order, until loaded; then passes them unchanged', async () => {
    const lazy = new LazySparkplugCodec();
    const { gate, calls } = recorder();
    const acked: string[] = [];
    const g = lazy.hold(gate);
    g(json, Buffer.from('a'), 1, 1, () => acked.push('a'));
    expect(calls.map((c) => c.payload)).toEqual(['a']);
    const held = Buffer.from('b');
    g(spb, held, 1, 2, () => acked.push('b'));
    g(json, Buffer.from('c'), 0, 3, () => acked.push('c')); // after a held one: held too, or it would overtake it
    held.fill(0x7a); // the broker thread reuses a ring view once the gate returns: the held publish has its own copy
    expect(calls.map((c) => c.payload)).toEqual(['a']);
    expect(acked).toEqual(['a']); // not acknowledged while held
    expect(() => lazy.get()).toThrow(/not loaded/);
    await lazy.load();
    expect(calls).toEqual([
      { topic: json, payload: 'a', qos: 1, receivedAt: 1 },
      { topic: spb, payload: 'b', qos: 1, receivedAt: 2 },
      { topic: json, payload: 'c', qos: 0, receivedAt: 3 },
    ]);
    expect(acked).toEqual(['a', 'b', 'c']);
    expect(lazy.get().decodePayload).toBe(codecModule.decodePayload);
    g(spb, Buffer.from('d'), 1, 4, () => acked.push('d')); // loaded: straight through
    expect(calls.at(-1)?.payload).toBe('d');
  });

  it('the first held publish starts the load by itself', async () => {
    const lazy = new LazySparkplugCodec();
    const { gate, calls } = recorder();
    lazy.hold(gate)(spb, Buffer.from('x'), 0, 1, () => undefined);
    await lazy.load(); // the same load, already under way
    expect(calls).toHaveLength(1);
  });

  it('a codec that cannot load: held spBv1.0 publishes are refused, later ones at once; other topics go on', async () => {
    const lazy = new LazySparkplugCodec(() => Promise.reject(new Error('cannot load')));
    const { gate, calls } = recorder();
    const g = lazy.hold(gate);
    const outcomes: string[] = [];
    const note = (err?: Error | null) => void outcomes.push(err?.message ?? 'ok');
    g(spb, Buffer.from('a'), 1, 1, note);
    g(json, Buffer.from('b'), 1, 2, note); // held behind it
    await expect(lazy.load()).rejects.toThrow('cannot load');
    expect(outcomes).toEqual(['cannot load', 'ok']);
    g(spb, Buffer.from('c'), 1, 3, note);
    g(json, Buffer.from('d'), 1, 4, note);
    expect(outcomes.slice(2)).toEqual(['cannot load', 'ok']);
    expect(calls.map((c) => c.payload)).toEqual(['b', 'd']);
  });
});

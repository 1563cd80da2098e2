import type { KV } from '@nats-io/kv';
import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import type { GatewayPublish } from '../../../gateway/broker/front.js';
import { createClusterMetrics } from '../../../gateway/cluster/metrics.js';
import { Relay, RELAY_CONFIRM_MS } from '../../../gateway/cluster/relay.js';
import { createMetrics } from '../../../gateway/metrics.js';

type Callback = (err: Error | null, m: Msg) => void;

/** A NatsConnection and KV that record what the relay does; flush() answers only when told to. */
function fakes() {
  const sent: { topic: string; flags: string; payload: string }[] = [];
  const kv: string[] = [];
  let callback: Callback | undefined;
  let answerFlush: (() => void) | undefined;
  const nc = {
    subscribe: (_s: string, o: { callback: Callback }) => {
      callback = o.callback;
      return { unsubscribe: () => {} };
    },
    publish: (_s: string, data: Uint8Array, o: { headers: ReturnType<typeof headers> }) =>
      void sent.push({ topic: o.headers.get('Gw-Topic'), flags: o.headers.get('Gw-Flags'), payload: Buffer.from(data).toString() }),
    flush: () => new Promise<void>((resolve) => (answerFlush = resolve)),
  } as unknown as NatsConnection;
  const retained = {
    put: (k: string) => (kv.push(`put ${Buffer.from(k, 'base64url').toString()}`), Promise.resolve(1)),
    delete: (k: string) => (kv.push(`delete ${Buffer.from(k, 'base64url').toString()}`), Promise.resolve()),
    keys: () => Promise.resolve((async function* () {})()),
  } as unknown as KV;
  const connection = { connected: true };
  const metrics = createMetrics();
  const cm = createClusterMetrics(metrics.registry);
  const relay = new Relay({ nc, connection, subject: 'gw.t.relay', retained, nodeId: 'a', metrics: cm, log: pino({ level: 'silent' }) });
  const local: GatewayPublish[] = [];
  const count = async (direction: string) => (await cm.relayed.get()).values.find((v) => v.labels.direction === direction)?.value ?? 0;
  const deliver = (from: string, topic: string, flags: string, payload = 'x') => {
    const h = headers();
    h.set('Gw-Node', from);
    h.set('Gw-Topic', topic);
    h.set('Gw-Flags', flags);
    callback!(null, { headers: h, data: Buffer.from(payload) } as unknown as Msg);
  };
  return { relay, sent, kv, connection, local, count, deliver, answerFlush: () => answerFlush?.() };
}

afterEach(() => vi.useRealTimers());

describe('cluster relay', () => {
  it('sends a client publish with its QoS and retain flag; PUBACKs a QoS 1 one once NATS confirmed', async () => {
    const f = fakes();
    const done0 = vi.fn();
    const done1 = vi.fn();
    f.relay.fromClients('devices/d1/commands/reboot', Buffer.from('now'), 0, false, done0);
    f.relay.fromClients('devices/d1/status', Buffer.from('on'), 1, true, done1);
    expect(done0).toHaveBeenCalledWith(null);
    expect(f.sent).toEqual([
      { topic: 'devices/d1/commands/reboot', flags: '0', payload: 'now' },
      { topic: 'devices/d1/status', flags: '1r', payload: 'on' },
    ]);
    expect(f.kv).toEqual(['put devices/d1/status']);
    await new Promise((r) => setImmediate(r));
    expect(done1).not.toHaveBeenCalled();
    f.answerFlush();
    await new Promise((r) => setImmediate(r));
    expect(done1).toHaveBeenCalledWith(null);
    expect(await f.count('out')).toBe(2);
    expect(await f.count('failed')).toBe(0);
  });

  it('an empty retained payload deletes the key [MQTT-3.3.1-10]; $-topics stay on this gateway [MQTT-4.7.2-1]', () => {
    const f = fakes();
    const done = vi.fn();
    f.relay.fromClients('devices/d1/status', Buffer.alloc(0), 0, true, done);
    f.relay.fromClients('$SYS/broker/clients', Buffer.from('1'), 0, false, done);
    expect(f.kv).toEqual(['delete devices/d1/status']);
    expect(f.sent.map((s) => s.topic)).toEqual(['devices/d1/status']);
    expect(done.mock.calls).toEqual([[null], [null]]);
  });

  it('while NATS is down nothing is buffered: routed and acknowledged at once, counted as failed', async () => {
    const f = fakes();
    f.connection.connected = false;
    const done = vi.fn();
    f.relay.fromClients('devices/d1/commands/x', Buffer.from('1'), 1, true, done);
    expect(done).toHaveBeenCalledWith(null);
    expect(f.sent).toEqual([]);
    expect(f.kv).toEqual([]);
    expect(await f.count('failed')).toBe(1);
  });

  it('a QoS 1 publish NATS does not confirm is acknowledged after RELAY_CONFIRM_MS and counted as failed', async () => {
    vi.useFakeTimers();
    const f = fakes();
    const done = vi.fn();
    f.relay.fromClients('devices/d1/commands/x', Buffer.from('1'), 1, false, done);
    f.relay.fromClients('devices/d1/commands/y', Buffer.from('2'), 1, false, done);
    await vi.advanceTimersByTimeAsync(RELAY_CONFIRM_MS - 1);
    expect(done).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(done.mock.calls).toEqual([[null], [null]]);
    expect(await f.count('failed')).toBe(2);
    // A late answer changes nothing.
    f.answerFlush();
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toHaveBeenCalledTimes(2);
  });

  it('re-publishes the others’ messages on the local broker; drops its own echo and refuses what no gateway sends', async () => {
    const f = fakes();
    await f.relay.attach({ publish: (p, done) => (f.local.push(p), done()) });
    f.deliver('b', 'devices/d1/commands/reboot', '1', 'now');
    f.deliver('b', 'devices/d1/status', '0r', '');
    f.deliver('a', 'devices/d1/commands/reboot', '1', 'echo');
    f.deliver('b', 'devices/+/commands/reboot', '1');
    f.deliver('b', '$SYS/broker/uptime', '0');
    f.deliver('b', 'devices/d1/x', 'qos2');
    f.deliver('b', '', '0');
    expect(f.local).toEqual([
      { topic: 'devices/d1/commands/reboot', payload: Buffer.from('now'), qos: 1, retain: false },
      { topic: 'devices/d1/status', payload: Buffer.alloc(0), qos: 0, retain: true },
    ]);
    expect(await f.count('in')).toBe(2);
    expect(await f.count('rejected')).toBe(4);
  });
});

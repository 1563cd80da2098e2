import { Aedes, type AedesPublishPacket, type PublishPacket } from 'aedes';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { cacheRoutes, type Audience } from '../../../gateway/broker/route-cache.js';

type Handler = (packet: AedesPublishPacket, cb: () => void) => void;

const brokers: Aedes[] = [];
afterEach(async () => {
  for (const b of brokers.splice(0)) await new Promise<void>((r) => b.close(() => r()));
});

const audiences = new WeakMap<Aedes, Audience>();

async function broker(cached: boolean, maxTopics = 16): Promise<Aedes> {
  const b = await Aedes.createBroker({ concurrency: 0 });
  brokers.push(b);
  if (cached) {
    const audience = cacheRoutes(b, maxTopics);
    expect(audience).toBeDefined();
    audiences.set(b, audience!);
  }
  return b;
}

const publish = (b: Aedes, topic: string) =>
  new Promise<void>((resolve, reject) =>
    b.publish({ cmd: 'publish', topic, payload: Buffer.from(topic), qos: 0, retain: false, dup: false } as PublishPacket, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
const subscribe = (b: Aedes, filter: string, fn: Handler) => new Promise<void>((resolve) => b.subscribe(filter, fn, () => resolve()));
// mqemitter removes a listener on the next turn (setImmediate) after calling back.
const unsubscribe = (b: Aedes, filter: string, fn: Handler) => new Promise<void>((resolve) => b.unsubscribe(filter, fn, () => setImmediate(resolve)));

// Few topics and filters that overlap, so a publish often reaches several subscriptions (a new array from
// qlobber, not one of its own) and a removal often matters to a topic that is cached.
// First levels that equal a filter's, extend it ('devicesX'), are empty ('/a') or are the whole topic ('devices',
// which `devices/#` matches [MQTT-4.7.1-2]), and filters with and without a wildcard first: the cases of the
// first-level test in front of the cache.
const TOPICS = ['devices/a/telemetry', 'devices/b/telemetry', 'alerts/a/t/hot', 'devices', 'devicesX/a/telemetry', '/a'];
const FILTERS = ['devices/+/telemetry', '#', 'devices/a/#', 'alerts/+/+/+', '+/a/telemetry', 'devices/#', '/#'];

describe('cacheRoutes', () => {
  it('delivers to a subscription made after the topic was cached, and not after it is removed', async () => {
    const b = await broker(true);
    const got: string[] = [];
    const fn: Handler = (p, cb) => {
      got.push(p.topic);
      cb();
    };
    await publish(b, 'devices/a/telemetry'); // cached: nobody listens
    await subscribe(b, 'devices/+/telemetry', fn);
    await publish(b, 'devices/a/telemetry');
    await unsubscribe(b, 'devices/+/telemetry', fn);
    await publish(b, 'devices/a/telemetry');
    expect(got).toEqual(['devices/a/telemetry']);
  });

  it('stops delivering to one of two matching subscriptions once it is removed', async () => {
    const b = await broker(true);
    const got: string[] = [];
    const to =
      (who: string): Handler =>
      (_p, cb) => {
        got.push(who);
        cb();
      };
    const a = to('a');
    const all = to('all');
    await subscribe(b, 'devices/+/telemetry', a);
    await subscribe(b, '#', all);
    await publish(b, 'devices/a/telemetry'); // cached: both
    await unsubscribe(b, '#', all);
    await publish(b, 'devices/a/telemetry');
    expect(got.sort()).toEqual(['a', 'a', 'all']);
  });

  it('does not consult the matcher for a topic under no subscribed first level, and does once one is subscribed', async () => {
    const b = await Aedes.createBroker({ concurrency: 0 });
    brokers.push(b);
    // Count what reaches qlobber underneath the cache.
    const m = (b as unknown as { mq: { _matcher: { match(t: string): unknown[] } } }).mq._matcher;
    const inner = m.match.bind(m);
    const asked: string[] = [];
    m.match = (t) => {
      asked.push(t);
      return inner(t);
    };
    expect(cacheRoutes(b)).toBeDefined();
    const got: string[] = [];
    const fn: Handler = (p, cb) => {
      got.push(p.topic);
      cb();
    };
    await subscribe(b, 'alerts/#', fn);
    await publish(b, 'devices/a/telemetry');
    await publish(b, 'alerts/a/t/hot');
    await subscribe(b, 'devices/+/telemetry', fn);
    await publish(b, 'devices/a/telemetry');
    expect(asked.filter((t) => !t.startsWith('$SYS'))).toEqual(['alerts/a/t/hot', 'devices/a/telemetry']);
    expect(got).toEqual(['alerts/a/t/hot', 'devices/a/telemetry']);
  });

  it('routes exactly like uncached aedes under any sequence of subscribes, unsubscribes and publishes; its audience covers every delivery', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('sub' as const), filter: fc.integer({ min: 0, max: FILTERS.length - 1 }), who: fc.integer({ min: 0, max: 1 }) }),
      fc.record({ kind: fc.constant('unsub' as const), filter: fc.integer({ min: 0, max: FILTERS.length - 1 }), who: fc.integer({ min: 0, max: 1 }) }),
      fc.record({ kind: fc.constant('pub' as const), topic: fc.integer({ min: 0, max: TOPICS.length - 1 }) }),
    );
    await fc.assert(
      // A cache smaller than the topics (2) also clears itself when full.
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.constantFrom(2, 16), async (ops, maxTopics) => {
        const logs: string[][] = [];
        for (const cached of [false, true]) {
          const b = await broker(cached, maxTopics);
          const log: string[] = [];
          // One handler per (subscriber, filter), as aedes has one per client subscription.
          const handlers = new Map<string, Handler>();
          const handler = (who: number, filter: string) => {
            const k = `${who} ${filter}`;
            let h = handlers.get(k);
            if (!h) {
              h = (p, cb) => {
                log.push(`${k} <- ${p.topic}`);
                cb();
              };
              handlers.set(k, h);
            }
            return h;
          };
          const active = new Set<string>();
          for (const o of ops) {
            if (o.kind === 'pub') {
              const topic = TOPICS[o.topic]!;
              const before = log.length;
              const mayReach = audiences.get(b)?.mayReach(topic);
              await publish(b, topic);
              // The audience is never wrong in saying nobody can receive a topic.
              if (log.length > before) expect(mayReach).not.toBe(false);
            } else {
              const filter = FILTERS[o.filter]!;
              const k = `${o.who} ${filter}`;
              if (o.kind === 'sub' && !active.has(k)) {
                active.add(k);
                await subscribe(b, filter, handler(o.who, filter));
              } else if (o.kind === 'unsub' && active.has(k)) {
                active.delete(k);
                await unsubscribe(b, filter, handler(o.who, filter));
              }
            }
          }
          logs.push(log.filter((l) => !l.includes('$SYS')));
        }
        expect(logs[1]).toEqual(logs[0]);
      }),
      { numRuns: 3000 }, // cheap (~0.2 s); a stale removal needs a five-step pattern, found within ~1000 runs,
    );
  });

  it('its audience may reach a topic once any filter with that first level (or a wildcard first) was ever subscribed', async () => {
    const b = await Aedes.createBroker({ concurrency: 0 });
    brokers.push(b);
    const audience = cacheRoutes(b)!;
    const fn: Handler = (_p, cb) => cb();
    // aedes' own `$SYS/+/...` listeners are there from the start.
    expect(audience.mayReach('$SYS/x/heartbeat')).toBe(true);
    expect(audience.mayReach('devices/a/telemetry')).toBe(false);
    await subscribe(b, 'alerts/#', fn);
    expect(audience.mayReach('alerts/a/t/hot')).toBe(true);
    expect(audience.mayReach('alertsX/a')).toBe(false);
    expect(audience.mayReach('devices/a/telemetry')).toBe(false);
    await subscribe(b, 'devices/#', fn);
    // `devices/#` matches `devices` itself [MQTT-4.7.1-2].
    expect(audience.mayReach('devices')).toBe(true);
    expect(audience.mayReach('devices/a/telemetry')).toBe(true);
    // A persistent session's subscription outlives its listener in the emitter: the audience never forgets.
    await unsubscribe(b, 'devices/#', fn);
    expect(audience.mayReach('devices/a/telemetry')).toBe(true);
    expect(audience.mayReach('zone/1')).toBe(false);
    await subscribe(b, '+/1', fn);
    expect(audience.mayReach('zone/1')).toBe(true);
    expect(audience.mayReach('anything/else')).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../gateway/config/load.js';
import { Ingest } from '../../../gateway/ingest.js';
import { createLogger, RateLimitedLog } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import { Pipeline } from '../../../gateway/pipeline/pipeline.js';
import type { Reading, WindowPoint } from '../../../gateway/pipeline/types.js';
import { DurableState } from '../../../gateway/state/durable-state.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { referenceWindows, windowKey } from '../../support/reference.js';
import { ManualTimers } from '../../support/manual-timers.js';

const config = validateConfig(
  {
    pipeline: { interval: '1s', allowedLateness: '500ms', correctionHorizon: '30s', dedupHorizon: '60s' },
    durability: { checkpointInterval: '200ms', commitDelay: '2ms' },
  },
  'test',
);
const settings = { intervalMs: 1000, allowedLatenessMs: 500, correctionHorizonMs: 30_000, dedupHorizonMs: 60_000 };
const silent = createLogger('silent');

/**
 * One gateway process over a shared "disk" (the memory store, the committed outbox): the same wiring as
 * app.ts (DurableState + Pipeline + Ingest), with the test driving the clock. `crash()` drops everything in
 * memory, including windows emitted but not yet committed to the outbox.
 */
class Node {
  readonly durable: DurableState;
  readonly pipeline: Pipeline;
  private pendingOut: WindowPoint[] = [];
  private dead = false;

  constructor(
    readonly timers: ManualTimers,
    store: MemoryStateStore,
    private readonly outbox: WindowPoint[],
  ) {
    const metrics = createMetrics();
    // A killed process runs no more timers: wrap the shared clock so this node's timers die with it. "Next
    // turn" timers take 3 ms, so publishes arrive between the steps of a checkpoint's capture (one device a step).
    const own = {
      now: timers.now,
      setTimeout: (fn: () => void, ms: number) => timers.setTimeout(() => this.dead || fn(), ms === 0 ? 3 : ms),
      clearTimeout: timers.clearTimeout,
    };
    this.durable = new DurableState(config, { log: silent, metrics, timers: own, store, checkpointSliceMs: 0 });
    const output = {
      window: (w: WindowPoint) => {
        this.durable.touch();
        this.pendingOut.push(w);
      },
    };
    const alerts = { restore: () => undefined };
    const sparkplug = { restore: () => undefined };
    this.pipeline = this.durable.restore({ pipeline: (snap) => new Pipeline(settings, output, snap), alerts, sparkplug });
    const ingest = new Ingest({ maxPayloadBytes: 4096 }, this.pipeline, metrics, new RateLimitedLog(silent));
    this.durable.recover({
      process: (r) => ingest.handle(r.topic, r.payload, r.receivedAt),
      tick: (t) => this.pipeline.tick(t),
      capture: () => {
        const p = this.pipeline.beginSnapshot();
        return {
          step: () => p.step(1),
          finish: () => ({ pipeline: p.finish(), alerts: new Uint8Array(0), sparkplug: new Uint8Array(0) }),
          abort: () => p.abort(),
        };
      },
      commitEmitted: () => this.commit(),
    });
    this.durable.start();
  }

  /** The outbox's own flushInterval commits too, at times of its choosing. */
  commit(): void {
    this.outbox.push(...this.pendingOut);
    this.pendingOut = [];
  }

  crash(): void {
    this.dead = true;
  }

  tick(): void {
    this.pipeline.tick(this.durable.tickTime(this.timers.now()));
  }
}

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Runs a stream with crashes at random points; returns what InfluxDB would hold and what was acknowledged. */
async function run(seed: number, crashes: number) {
  const random = lcg(seed);
  const timers = new ManualTimers(1_700_000_000_000);
  const store = new MemoryStateStore();
  const outbox: WindowPoint[] = [];
  let node = new Node(timers, store, outbox);
  const acked: Reading[] = [];
  let logged = 0;
  const total = 600;
  const crashAt = new Set(Array.from({ length: crashes }, () => 50 + Math.floor(random() * (total - 100))));
  // Messages not acknowledged yet are sent again after a crash (what an MQTT client does), with the
  // receive time of their new arrival.
  let unacked: { topic: string; payload: Buffer; readings: (receivedAt: number) => Reading[] }[] = [];
  let nextTs = timers.now() - 5_000;
  const usedTs = new Set<number>();
  const send = (m: (typeof unacked)[number]) => {
    unacked.push(m);
    const receivedAt = timers.now();
    node.durable.accept(m.topic, m.payload, 1, receivedAt, (err) => {
      if (err) return;
      unacked = unacked.filter((u) => u !== m);
      acked.push(...m.readings(receivedAt));
    });
  };
  for (let i = 0; i < total; i++) {
    await timers.advance(Math.floor(random() * 25));
    if (random() < 0.3) node.tick();
    if (random() < 0.1) node.commit();
    if (crashAt.has(i)) {
      logged += store.totals().entries;
      node.crash(); // no final checkpoint, no more timers, emitted windows not yet committed are lost
      node = new Node(timers, store, outbox);
      const again = unacked;
      unacked = [];
      for (const m of again) send(m);
    }
    const kind = 2 - (i % 3); // c, b, a: "a" (no ts, no seq) last in map order, so a capture writes it last
    const v = Math.round(random() * 1e6) / 1e3 - 300;
    if (kind === 0) {
      // Gateway-stamped, no seq, no ts: event time = the LOGGED receive time, also on replay.
      send({ topic: 'devices/a/sensors/t', payload: Buffer.from(String(v)), readings: (at) => [{ device: 'a', sensor: 't', ts: at, value: v }] });
    } else if (kind === 1) {
      // Gateway-stamped with seq (dedup by seq).
      send({
        topic: 'devices/b/telemetry',
        payload: Buffer.from(JSON.stringify({ seq: i, readings: { h: v } })),
        readings: (at) => [{ device: 'b', sensor: 'h', ts: at, value: v }],
      });
    } else {
      // Device-stamped, slightly out of order.
      nextTs += 20 + Math.floor(random() * 20);
      let ts = nextTs - Math.floor(random() * 300);
      while (usedTs.has(ts)) ts++; // a repeated ts would be a duplicate by contract
      usedTs.add(ts);
      send({
        topic: 'devices/c/telemetry',
        payload: Buffer.from(JSON.stringify({ ts, readings: { p: v } })),
        readings: () => [{ device: 'c', sensor: 'p', ts, value: v }],
      });
    }
  }
  await timers.advance(10);
  await timers.advance(5_000);
  node.tick();
  node.durable.stop();
  node.crash();
  expect(unacked).toEqual([]);
  return { outbox, acked, store, logged };
}

describe('checkpoint + ingest log replay (injected clock)', () => {
  it('without crashes: the periodic checkpoints keep the log short and the windows are exact', async () => {
    const { outbox, acked, store } = await run(1, 0);
    expect(store.totals().entries).toBe(0);
    expectExact(outbox, acked);
  });

  for (const seed of [2, 3, 4, 5]) {
    it(`crashes at random points lose no acknowledged reading and count none twice (seed ${seed})`, async () => {
      const { outbox, acked, logged } = await run(seed, 4);
      expect(logged).toBeGreaterThan(0); // the crashes did leave log entries to replay
      expectExact(outbox, acked);
    });
  }
});

/** InfluxDB keeps the last write per series + time: that must equal the reference, and no earlier write may carry a newer revision. */
function expectExact(outbox: readonly WindowPoint[], acked: readonly Reading[]) {
  const stored = new Map<string, WindowPoint>();
  const maxRev = new Map<string, number>();
  for (const p of outbox) {
    const k = windowKey(p.device, p.sensor, p.start);
    stored.set(k, p);
    maxRev.set(k, Math.max(maxRev.get(k) ?? 0, p.revision));
  }
  const reference = referenceWindows(acked, 1000);
  expect([...stored.keys()].sort()).toEqual([...reference.keys()].sort());
  for (const [k, ref] of reference) {
    const got = stored.get(k)!;
    expect({ mean: got.mean, min: got.min, max: got.max, first: got.first, last: got.last, count: got.count }, k).toEqual(ref);
    expect(got.revision, k).toBe(maxRev.get(k));
  }
}

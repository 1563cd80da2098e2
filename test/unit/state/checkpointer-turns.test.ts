import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import { Checkpointer } from '../../../gateway/state/checkpointer.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { ManualTimers } from '../../support/manual-timers.js';

/**
 * The sliced checkpoint with `sealEmitted`: the windows emitted before it began are sealed in its first turn and
 * committed in a turn of their own, and never after the checkpoint is saved (a checkpoint must not cover a window
 * only in memory, docs/durability.md).
 */
function setup(steps: number, failCommits = 0, pieces = 1, waited?: () => number) {
  const metrics = createMetrics();
  const store = new MemoryStateStore();
  const timers = new ManualTimers();
  const order: string[] = [];
  let aborted = 0;
  let version = 1;
  let failing = failCommits;
  const cp = new Checkpointer({
    store: {
      load: () => store.load(),
      save: (c) => {
        order.push('save');
        store.save(c);
      },
      close: () => store.close(),
    },
    log: store,
    timers,
    intervalMs: 1000,
    sliceMs: 0, // one step a turn
    sliceGapMs: 4,
    capture: () => {
      order.push('capture');
      let left = steps;
      const taken = { pipeline: Uint8Array.of(version), alerts: new Uint8Array(0), sparkplug: new Uint8Array(0) };
      return {
        step: () => (order.push('step'), --left <= 0),
        finish: () => (order.push('finish'), taken),
        abort: () => void aborted++,
      };
    },
    commitEmitted: () => order.push('flush'),
    sealEmitted: () => {
      order.push('seal');
      let left = pieces;
      return () => {
        order.push('commit');
        if (failing-- > 0) throw new Error('disk full');
        return --left <= 0;
      };
    },
    version: () => version,
    ...(waited !== undefined ? { waited } : {}),
    metrics,
    logger: createLogger('silent'),
  });
  const turns = async () => {
    const h = await metrics.checkpointTurnSeconds.get();
    const count = (phase: string) => h.values.find((v) => v.metricName === 'gateway_checkpoint_turn_seconds_count' && v.labels['phase'] === phase)?.value ?? 0;
    return { begin: count('begin'), outbox: count('outbox'), slice: count('slice'), finish: count('finish') };
  };
  return { cp, timers, order, store, metrics, turns, aborted: () => aborted, bump: () => version++ };
}

describe('Checkpointer, sealed windows', () => {
  it('seals in the turn that begins the capture, commits them alone in the next turn, and saves only after', async () => {
    const { cp, timers, order, store, turns } = setup(3);
    cp.start();
    await timers.advance(1000);
    expect(order).toEqual(['capture', 'seal', 'step']); // no commit in the turn that begins it
    await timers.advance(4);
    expect(order).toEqual(['capture', 'seal', 'step', 'commit']); // the commit, alone
    await timers.advance(4);
    await timers.advance(4);
    expect(order).toEqual(['capture', 'seal', 'step', 'commit', 'step', 'step', 'finish', 'save']);
    expect([...(store.load()!.pipeline as Uint8Array)]).toEqual([1]);
    expect(await turns()).toEqual({ begin: 1, outbox: 1, slice: 1, finish: 1 });
    cp.stop();
  });

  it('a capture whose steps are all taken in its first turn still waits for the commit before it is saved', async () => {
    const { cp, timers, order, store, turns } = setup(1);
    cp.start();
    await timers.advance(1000);
    expect(order).toEqual(['capture', 'seal', 'step']);
    expect(store.load()).toBeUndefined();
    await timers.advance(4);
    expect(order).toEqual(['capture', 'seal', 'step', 'commit']);
    expect(store.load()).toBeUndefined();
    await timers.advance(4);
    expect(order).toEqual(['capture', 'seal', 'step', 'commit', 'finish', 'save']);
    expect(await turns()).toEqual({ begin: 1, outbox: 1, slice: 0, finish: 1 });
    cp.stop();
  });

  it('commits the sealed windows a piece a turn (within sliceMs), every piece before the save', async () => {
    const { cp, timers, order, store, turns } = setup(1, 0, 3);
    cp.start();
    await timers.advance(1000);
    for (let i = 0; i < 3; i++) {
      await timers.advance(4);
      expect(store.load()).toBeUndefined();
    }
    expect(order).toEqual(['capture', 'seal', 'step', 'commit', 'commit', 'commit']);
    await timers.advance(4);
    expect(order).toEqual(['capture', 'seal', 'step', 'commit', 'commit', 'commit', 'finish', 'save']);
    expect(await turns()).toEqual({ begin: 1, outbox: 3, slice: 0, finish: 1 });
    cp.stop();
  });

  it('when the commit of the sealed windows fails, the capture is dropped unsaved and the next checkpoint saves', async () => {
    const { cp, timers, order, store, aborted, bump } = setup(2, 1);
    cp.start();
    await timers.advance(1000);
    await timers.advance(4);
    expect(order).toEqual(['capture', 'seal', 'step', 'commit']);
    expect(aborted()).toBe(1);
    await timers.advance(100);
    expect(order).not.toContain('save');
    expect(store.load()).toBeUndefined();
    bump();
    await timers.advance(1000);
    for (let i = 0; i < 4; i++) await timers.advance(4);
    expect(order.slice(4)).toEqual(['capture', 'seal', 'step', 'commit', 'step', 'finish', 'save']);
    expect([...(store.load()!.pipeline as Uint8Array)]).toEqual([2]);
    // A whole checkpoint in one go (stop, after a replay) commits everything emitted in its own turn, as before.
    bump();
    order.length = 0;
    cp.stop();
    expect(cp.checkpoint()).toBe(true);
    expect(order).toEqual(['capture', 'flush', 'step', 'step', 'finish', 'save']);
  });
});

describe('Checkpointer, the finish turn', () => {
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };

  it('finishes and hands over in a turn of its own when the last slice has spent half its budget', async () => {
    const metrics = createMetrics();
    const store = new MemoryStateStore();
    const timers = new ManualTimers();
    const order: string[] = [];
    const cp = new Checkpointer({
      store: { load: () => store.load(), save: (c) => (order.push('save'), store.save(c)), close: () => store.close() },
      log: store,
      timers,
      intervalMs: 1000,
      sliceMs: 2,
      sliceGapMs: 4,
      capture: () => ({
        // One step of 1.5 ms, the last: the turn has spent more than half of its 2 ms.
        step: () => (order.push('step'), busy(1.5), true),
        finish: () => (order.push('finish'), { pipeline: Uint8Array.of(1), alerts: new Uint8Array(0), sparkplug: new Uint8Array(0) }),
        abort: () => {},
      }),
      commitEmitted: () => order.push('flush'),
      version: () => 1,
      metrics,
      logger: createLogger('silent'),
    });
    cp.start();
    await timers.advance(1000);
    expect(order).toEqual(['flush', 'step']);
    expect(store.load()).toBeUndefined();
    await timers.advance(4);
    expect(order).toEqual(['flush', 'step', 'finish', 'save']);
    const h = await metrics.checkpointTurnSeconds.get();
    const count = (phase: string) => h.values.find((v) => v.metricName === 'gateway_checkpoint_turn_seconds_count' && v.labels['phase'] === phase)?.value;
    expect([count('begin'), count('finish')]).toEqual([1, 1]);
    cp.stop();
  });
});

describe('Checkpointer, time on a core', () => {
  it('counts every turn also less the waits for a core inside it, and only with a wait clock', async () => {
    const run = async (waited?: () => number) => {
      const { cp, timers, store, metrics } = setup(3, 0, 1, waited);
      cp.start();
      await timers.advance(1000);
      for (let i = 0; i < 3; i++) await timers.advance(4);
      cp.stop();
      expect(store.load()).toBeDefined();
      const totals = async (h: typeof metrics.checkpointTurnSeconds) => {
        const v = (await h.get()).values;
        const sum = (suffix: string) => v.filter((x) => x.metricName?.endsWith(suffix)).reduce((a, x) => a + x.value, 0);
        return { count: sum('_count'), sum: sum('_sum') };
      };
      return { wall: await totals(metrics.checkpointTurnSeconds), running: await totals(metrics.checkpointTurnRunningSeconds) };
    };
    // Every read of the fake clock is 1 ns of waiting later than the one before: one read begins a turn and one
    // ends it, so each turn (begin, outbox, slice, finish: microseconds each) holds 1 ns of waits.
    let reads = 0;
    const withClock = await run(() => ++reads * 1e-6);
    expect(withClock.wall.count).toBe(4);
    expect(withClock.running.count).toBe(4);
    expect(reads).toBe(8);
    expect(withClock.running.sum).toBeCloseTo(withClock.wall.sum - 4e-9, 13);
    const without = await run();
    expect(without.wall.count).toBe(4);
    expect(without.running.count).toBe(0);
  });
});

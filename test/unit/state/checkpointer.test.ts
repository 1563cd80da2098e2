import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import { Checkpointer } from '../../../gateway/state/checkpointer.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { ManualTimers } from '../../support/manual-timers.js';

async function counts(metrics: ReturnType<typeof createMetrics>) {
  const h = await metrics.checkpointSeconds.get();
  const c = await metrics.checkpoints.get();
  const count = (phase: string) => h.values.find((v) => v.metricName === 'gateway_checkpoint_seconds_count' && v.labels['phase'] === phase)?.value ?? 0;
  const result = (r: string) => c.values.find((v) => v.labels['result'] === r)?.value ?? 0;
  return {
    capture: count('capture'),
    slice: count('slice'),
    outbox: count('outbox'),
    save: count('save'),
    saved: result('saved'),
    unchanged: result('unchanged'),
    failed: result('failed'),
  };
}

describe('Checkpointer metrics', () => {
  it('times each phase as it runs (a failed save is not timed as a save), and nothing of an unchanged checkpoint', async () => {
    const metrics = createMetrics();
    const store = new MemoryStateStore();
    let version = 1;
    let failSave = false;
    const order: string[] = [];
    const cp = new Checkpointer({
      store: {
        load: () => store.load(),
        save: (c) => {
          order.push('save');
          if (failSave) throw new Error('disk full');
          store.save(c);
        },
        close: () => store.close(),
      },
      log: store,
      timers: new ManualTimers(),
      intervalMs: 1000,
      capture: () => {
        order.push('capture');
        const taken = { pipeline: Uint8Array.of(version), alerts: new Uint8Array(0), sparkplug: new Uint8Array(0) };
        return { step: () => true, finish: () => taken, abort: () => {} };
      },
      commitEmitted: () => order.push('outbox'),
      version: () => version,
      metrics,
      logger: createLogger('silent'),
    });
    expect(cp.checkpoint()).toBe(true);
    expect(order).toEqual(['capture', 'outbox', 'save']);
    expect(await counts(metrics)).toEqual({ capture: 1, slice: 1, outbox: 1, save: 1, saved: 1, unchanged: 0, failed: 0 });
    expect(cp.checkpoint()).toBe(true); // nothing changed: nothing written, nothing timed
    version++;
    failSave = true;
    expect(cp.checkpoint()).toBe(false);
    expect(await counts(metrics)).toEqual({ capture: 2, slice: 2, outbox: 2, save: 1, saved: 1, unchanged: 1, failed: 1 });
    expect([...store.load()!.pipeline]).toEqual([1]);
  });
});

/**
 * A capture over a list of "devices" (numbers): `step` writes one, `state[i]++` is a change; like the pipeline's
 * capture it writes a device before its first change (`touch`), so the result is the state when it began.
 */
class ListState {
  readonly state = [0, 0, 0, 0];
  private open: { written: (number | undefined)[]; next: number } | undefined;
  aborted = 0;

  touch(i: number): void {
    const c = this.open;
    if (c !== undefined && c.written[i] === undefined) c.written[i] = this.state[i];
    this.state[i]!++;
  }

  capture() {
    const c = (this.open = { written: this.state.map(() => undefined as number | undefined), next: 0 });
    const step = () => {
      while (c.next < this.state.length && c.written[c.next] !== undefined) c.next++;
      if (c.next < this.state.length) c.written[c.next] = this.state[c.next];
      return c.written.every((x) => x !== undefined);
    };
    return {
      step,
      finish: () => {
        while (!step());
        this.open = undefined;
        return { pipeline: Uint8Array.from(c.written as number[]), alerts: new Uint8Array(0), sparkplug: new Uint8Array(0) };
      },
      abort: () => {
        this.open = undefined;
        this.aborted++;
      },
    };
  }
}

describe('Checkpointer, captures in slices', () => {
  function setup() {
    const store = new MemoryStateStore();
    const timers = new ManualTimers();
    const list = new ListState();
    let version = 0;
    const metrics = createMetrics();
    // "Next turn" timers take 1 ms, so the test acts between the steps of a capture.
    const turns = { now: timers.now, setTimeout: (fn: () => void, ms: number) => timers.setTimeout(fn, ms === 0 ? 1 : ms), clearTimeout: timers.clearTimeout };
    const cp = new Checkpointer({
      store,
      log: store,
      timers: turns,
      intervalMs: 1000,
      capture: () => list.capture(),
      sliceMs: 0, // one step a turn
      sliceGapMs: 0,
      commitEmitted: () => {},
      version: () => version,
      metrics,
      logger: createLogger('silent'),
    });
    /** A logged publish that changes device i (what the journal does: append, then process). */
    const publish = (i: number) => {
      store.append([{ topic: `devices/d${i}/telemetry`, payload: Buffer.from('1'), receivedAt: timers.now() }]);
      list.touch(i);
      version++;
    };
    return { store, timers, list, cp, publish, metrics };
  }

  it('saves the state and log position of its start while publishes go on between its steps', async () => {
    const { store, timers, list, cp, publish, metrics } = setup();
    publish(0);
    publish(3);
    cp.start();
    await timers.advance(1000); // the periodic checkpoint begins and takes its first step
    expect(store.load()).toBeUndefined();
    publish(3); // not written yet: written as it was before this change
    publish(1);
    await timers.advance(1); // the second step writes device 2, the last: saved
    publish(0);
    const saved = store.load()!;
    expect([...saved.pipeline]).toEqual([1, 0, 0, 1]);
    expect(saved.logPosition).toBe(2);
    expect(list.state).toEqual([2, 1, 0, 2]);
    // The publishes during the capture stay in the log for the next checkpoint.
    expect(store.totals().entries).toBe(3);
    expect(
      (await metrics.checkpointSeconds.get()).values.find((v) => v.metricName === 'gateway_checkpoint_seconds_count' && v.labels['phase'] === 'slice')?.value,
    ).toBe(2);
    await timers.advance(1010);
    expect([...store.load()!.pipeline]).toEqual([2, 1, 0, 2]);
    expect(store.totals().entries).toBe(0);
    cp.stop();
  });

  it('a request while one runs is taken after it; checkpoint() and stop() drop the running one and save it all', async () => {
    const { store, timers, list, cp, publish } = setup();
    publish(2);
    cp.request();
    await timers.advance(1); // begins, one step taken
    publish(1);
    cp.request(); // coalesced into one more after the running one
    cp.request();
    await timers.advance(2);
    expect([...store.load()!.pipeline]).toEqual([0, 0, 1, 0]);
    expect(store.totals().entries).toBe(1);
    await timers.advance(10);
    expect([...store.load()!.pipeline]).toEqual([0, 1, 1, 0]);
    expect(store.totals().entries).toBe(0);
    await timers.advance(10);
    expect(list.aborted).toBe(0);

    publish(0);
    cp.request();
    await timers.advance(1);
    publish(3);
    expect(cp.checkpoint()).toBe(true); // a whole one now: the sliced one is dropped
    expect(list.aborted).toBe(1);
    expect([...store.load()!.pipeline]).toEqual([1, 1, 1, 1]);
    expect(timers.timerCount).toBe(0);

    publish(2);
    cp.request();
    await timers.advance(1);
    cp.stop(); // a graceful stop: the running capture is dropped, the final checkpoint takes it all
    expect(list.aborted).toBe(2);
    expect(timers.timerCount).toBe(0);
    expect(cp.checkpoint()).toBe(true);
    expect([...store.load()!.pipeline]).toEqual([1, 1, 2, 1]);
  });
});

describe('gateway_checkpoint_pause_max_seconds', () => {
  const busy = (ms: number) => {
    const until = performance.now() + ms;
    while (performance.now() < until);
  };
  const pauseMax = async (metrics: ReturnType<typeof createMetrics>) => (await metrics.checkpointPauseMax.get()).values[0]?.value ?? 0;

  it('holds the longest turn of a periodic checkpoint: the turn that begins it includes the capture and the outbox commit; pauses reported from outside count too', async () => {
    const metrics = createMetrics();
    const store = new MemoryStateStore();
    const timers = new ManualTimers();
    let steps = 0;
    const cp = new Checkpointer({
      store,
      log: store,
      timers,
      intervalMs: 1000,
      sliceMs: 0,
      // Beginning costs 6 ms (capture 3 + outbox 3), each later slice 1 ms: the longest turn is the first.
      capture: () => {
        busy(3);
        return {
          step: () => (busy(1), ++steps >= 3),
          finish: () => ({ pipeline: Uint8Array.of(1), alerts: new Uint8Array(0), sparkplug: new Uint8Array(0) }),
          abort: () => {},
        };
      },
      commitEmitted: () => busy(3),
      version: () => 1,
      metrics,
      logger: createLogger('silent'),
    });
    cp.start();
    expect(await pauseMax(metrics)).toBe(0);
    await timers.advance(1000);
    while (steps < 3) await timers.advance(4);
    const first = await pauseMax(metrics);
    // Each phase alone (3 ms) is below it: the gauge is of the whole turn, not of one phase.
    expect(first).toBeGreaterThanOrEqual(0.007);
    cp.notePause(first / 2);
    expect(await pauseMax(metrics)).toBe(first);
    cp.notePause(1);
    expect(await pauseMax(metrics)).toBe(1);
    cp.stop();
  });
});

import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import { Checkpointer } from '../../../gateway/state/checkpointer.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { ManualTimers } from '../outbox/manual-timers.js';

async function counts(metrics: ReturnType<typeof createMetrics>) {
  const h = await metrics.checkpointSeconds.get();
  const c = await metrics.checkpoints.get();
  const count = (phase: string) => h.values.find((v) => v.metricName === 'gateway_checkpoint_seconds_count' && v.labels['phase'] === phase)?.value ?? 0;
  const result = (r: string) => c.values.find((v) => v.labels['result'] === r)?.value ?? 0;
  return { capture: count('capture'), outbox: count('outbox'), save: count('save'), saved: result('saved'), unchanged: result('unchanged'), failed: result('failed') };
}

describe('Checkpointer metrics', () => {
  it('times each saved checkpoint by phase, and neither an unchanged nor a failed one', async () => {
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
      capture: () => (order.push('capture'), { pipeline: { v: version }, alerts: null }),
      commitEmitted: () => order.push('outbox'),
      version: () => version,
      metrics,
      logger: createLogger('silent'),
    });
    expect(cp.checkpoint()).toBe(true);
    expect(order).toEqual(['capture', 'outbox', 'save']);
    expect(await counts(metrics)).toEqual({ capture: 1, outbox: 1, save: 1, saved: 1, unchanged: 0, failed: 0 });
    expect(cp.checkpoint()).toBe(true); // nothing changed: nothing written, nothing timed
    version++;
    failSave = true;
    expect(cp.checkpoint()).toBe(false);
    expect(await counts(metrics)).toEqual({ capture: 1, outbox: 1, save: 1, saved: 1, unchanged: 1, failed: 1 });
    expect(store.load()?.pipeline).toEqual({ v: 1 });
  });
});

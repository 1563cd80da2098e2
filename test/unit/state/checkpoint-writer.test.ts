import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../gateway/config/load.js';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import { CheckpointWriter } from '../../../gateway/state/checkpoint-writer.js';
import { DurableState } from '../../../gateway/state/durable-state.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { SqliteStateStore, STATE_FILE } from '../../../gateway/state/sqlite-state.js';
import { ManualTimers } from '../../support/manual-timers.js';

/**
 * The checkpoint writer's thread starts with the gateway (DurableState.start, once MQTT listens), not at the
 * first checkpoint: its bootstrap (~170 ms of CPU) would otherwise land in the middle of the load.
 */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('checkpoint writer start', () => {
  it('prestart() starts the thread before any write', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-writer-'));
    dirs.push(dir);
    const store = new SqliteStateStore({ dir, sync: 'normal', log: createLogger('silent') });
    const writer = new CheckpointWriter(join(dir, STATE_FILE), 'NORMAL');
    try {
      expect(writer.started).toBe(false);
      writer.prestart();
      expect(writer.started).toBe(true);
    } finally {
      writer.close();
      store.close();
    }
  });

  it('DurableState.start() gets the store writer going', () => {
    let prestarts = 0;
    class Store extends MemoryStateStore {
      prestart(): void {
        prestarts++;
      }
    }
    const config = validateConfig({}, 'test');
    const timers = new ManualTimers(1_700_000_000_000);
    const state = new DurableState(config, { log: createLogger('silent'), metrics: createMetrics(), timers, store: new Store() });
    state.restore({ pipeline: () => undefined, alerts: { restore: () => undefined }, sparkplug: { restore: () => undefined } });
    state.recover({
      process: () => {},
      tick: () => {},
      capture: () => ({
        step: () => true,
        finish: () => ({ pipeline: new Uint8Array(0), alerts: new Uint8Array(0), sparkplug: new Uint8Array(0) }),
        abort: () => {},
      }),
      commitEmitted: () => {},
    });
    expect(prestarts).toBe(0);
    state.start();
    expect(prestarts).toBe(1);
    state.stop();
  });
});

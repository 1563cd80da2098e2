/**
 * Killed by test/integration/checkpoint-crash.test.ts: logs message after message into state.db (one record per
 * position), feeds each to a pipeline, and keeps taking incremental checkpoints, captured in steps between
 * messages and written on the store's writer thread, as the gateway does. Prints `saved <position>` after each.
 */
import { createLogger } from '../../gateway/log.js';
import { SqliteStateStore } from '../../gateway/state/sqlite-state.js';
import { deltaOf, messageOf, newPipeline, recordOf } from './delta-crash.js';

const store = new SqliteStateStore({ dir: process.argv[2]!, sync: 'normal', log: createLogger('silent') });
const p = newPipeline();
let i = 0;
let capture: { d: ReturnType<typeof p.beginDelta>; position: number } | undefined;
let saving = false;

function batch(): void {
  for (let k = 0; k < 40; k++) {
    if (!store.busy()) {
      store.append([recordOf(++i)]);
      p.ingest(messageOf(i), recordOf(i).receivedAt);
    }
    if (capture !== undefined && capture.d.step(3)) {
      const { d, position } = capture;
      capture = undefined;
      saving = true;
      store.saveDeltaAsync(deltaOf(p, d, position), (err) => {
        saving = false;
        if (err) d.abort();
        else process.stdout.write(`saved ${position}\n`);
      });
    } else if (capture === undefined && !saving && i % 200 === 0) capture = { d: p.beginDelta(), position: i };
  }
  setImmediate(batch);
}
batch();

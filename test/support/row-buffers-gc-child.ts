/**
 * Child of row-buffers-gc.test.ts, run under `node --trace-gc`: saves checkpoint deltas whose pipeline rows are
 * bigger than two semi-spaces through the real writer thread, then allocates small off-heap buffers the way a
 * checkpoint's first turn does. Prints "begin" and "end" around those allocations, so that the parent can read
 * which garbage collections V8 ran inside them, and why.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../gateway/log.js';
import { SqliteStateStore } from '../../gateway/state/sqlite-state.js';
import { filledRows, saveRows } from './row-batches.js';

const ROWS = 24_000;
const ROW_BYTES = 2_000; // ~46 MiB of rows: above 2 x 16 MiB, V8's young generation limit for external bytes

const dir = mkdtempSync(join(tmpdir(), 'row-buffers-gc-'));
const store = new SqliteStateStore({ dir, sync: 'normal', log: createLogger('silent') });
try {
  for (let round = 0; round < 3; round++) {
    await saveRows(store, filledRows(ROWS, ROW_BYTES, round), round);
    console.log('begin');
    for (let i = 0; i < 4; i++) Buffer.allocUnsafeSlow(4096);
    console.log('end');
  }
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

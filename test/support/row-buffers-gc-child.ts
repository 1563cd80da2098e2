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
import { FORMATS } from '../../gateway/persist/formats.js';
import { RowWriter } from '../../gateway/persist/rows.js';
import { encodeHostSnapshot } from '../../gateway/sparkplug/host-snapshot.js';
import { SqliteStateStore } from '../../gateway/state/sqlite-state.js';

const ROWS = 24_000;
const ROW_BYTES = 2_000; // ~46 MiB of rows: above 2 x 16 MiB, V8's young generation limit for external bytes

const dir = mkdtempSync(join(tmpdir(), 'row-buffers-gc-'));
const store = new SqliteStateStore({ dir, sync: 'normal', log: createLogger('silent') });
const rows = (fill: number) => {
  const w = new RowWriter(ROWS * ROW_BYTES);
  for (let i = 0; i < ROWS; i++) {
    w.begin(`dev-${i}`, FORMATS.pipelineSnapshot);
    w.w.ensure(ROW_BYTES);
    w.w.buf.fill(fill, w.w.pos, w.w.pos + ROW_BYTES);
    w.w.pos += ROW_BYTES;
    w.end();
  }
  return w.finish();
};
try {
  for (let round = 0; round < 3; round++) {
    await new Promise<void>((resolve, reject) =>
      store.saveDeltaAsync(
        {
          pipelineHead: new Uint8Array(0),
          pipelineRows: rows(round),
          pipelineFull: true,
          alertRows: new RowWriter(0).finish(),
          alertsFull: true,
          sparkplug: encodeHostSnapshot([]),
          savedAt: round,
          logPosition: 0,
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
    console.log('begin');
    for (let i = 0; i < 4; i++) Buffer.allocUnsafeSlow(4096);
    console.log('end');
  }
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

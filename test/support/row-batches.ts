/**
 * Pipeline row batches of a known size and content, and their save through the store's writer thread, for the
 * tests of the checkpoint row buffers (row-buffers.test.ts, and the child of row-buffers-gc.test.ts).
 */
import { FORMATS } from '../../gateway/persist/formats.js';
import { RowWriter, type RowBatch } from '../../gateway/persist/rows.js';
import { encodeHostSnapshot } from '../../gateway/sparkplug/host-snapshot.js';
import type { SqliteStateStore } from '../../gateway/state/sqlite-state.js';

/** `rows` rows `dev-<i>`, each a value of `rowBytes` bytes all equal to `fill`. */
export function filledRows(rows: number, rowBytes: number, fill: number): RowBatch {
  const w = new RowWriter(rows * rowBytes);
  for (let i = 0; i < rows; i++) {
    w.begin(`dev-${i}`, FORMATS.pipelineSnapshot);
    w.w.ensure(rowBytes);
    w.w.buf.fill(fill, w.w.pos, w.w.pos + rowBytes);
    w.w.pos += rowBytes;
    w.end();
  }
  return w.finish();
}

/** Saves `pipelineRows` as a full delta (no alerts, no edge nodes) on the store's writer thread. */
export function saveRows(store: SqliteStateStore, pipelineRows: RowBatch, savedAt = 1): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    store.saveDeltaAsync(
      {
        pipelineHead: new Uint8Array(0),
        pipelineRows,
        pipelineFull: true,
        alertRows: new RowWriter(0).finish(),
        alertsFull: true,
        sparkplug: encodeHostSnapshot([]),
        savedAt,
        logPosition: 0,
      },
      (err) => (err ? reject(err) : resolve()),
    ),
  );
}

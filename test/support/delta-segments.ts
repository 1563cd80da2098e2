import type { RowBatch } from '../../gateway/persist/rows.js';

/** A delta capture as the incremental checkpoint property tests drive it (pipeline and alerts alike). */
export interface Capture {
  readonly full: boolean;
  step(n: number): boolean;
  finish(): RowBatch;
  abort(): void;
}

/**
 * Each segment's operations, with the previous segment's capture stepped between them (changes while it is
 * captured); then that capture is finished and saved, or aborted when its outcome is `failed` (a save that did
 * not happen: its devices go to the next one); then the next capture begins. The last one is dropped.
 */
export function runSegments<O, S, G extends { ops: readonly O[]; steps: readonly number[]; outcome: string }>(
  segments: readonly G[],
  h: { apply(o: O): void; begin(seg: G): { delta: Capture; atStart: S }; saved(rows: RowBatch, full: boolean, atStart: S, outcome: string): void },
): void {
  let capture: { delta: Capture; atStart: S; steps: readonly number[]; outcome: string } | undefined;
  for (const seg of segments) {
    seg.ops.forEach((o, i) => {
      if (capture !== undefined && capture.steps.length > 0) capture.delta.step(capture.steps[i % capture.steps.length]!);
      h.apply(o);
    });
    if (capture !== undefined) {
      const rows = capture.delta.finish();
      if (capture.outcome === 'failed') capture.delta.abort();
      else h.saved(rows, capture.delta.full, capture.atStart, capture.outcome);
    }
    capture = { ...h.begin(seg), steps: seg.steps, outcome: seg.outcome };
  }
  capture!.delta.abort();
}

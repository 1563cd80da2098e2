import fc from 'fast-check';
import type { Pipeline } from '../../gateway/pipeline/pipeline.js';
import { RowWriter, type RowBatch } from '../../gateway/persist/rows.js';
import type { MemoryStateStore } from '../../gateway/state/memory-state.js';

/** A segment: operations, then a checkpoint whose capture steps run between the next segment's operations. */
export const segmentOf = <O>(op: fc.Arbitrary<O>, maxOps: number) =>
  fc.record({
    ops: fc.array(op, { maxLength: maxOps }),
    steps: fc.array(fc.nat(2), { maxLength: 6 }),
    copyBudget: fc.constantFrom(0, 2000, Infinity),
    outcome: fc.constantFrom('saved', 'saved', 'saved', 'failed', 'restart'),
  });

/** Saves the pipeline's rows (no alert rows) as the checkpointer would, into the memory store. */
export function savePipelineRows(store: MemoryStateStore, p: Pipeline, rows: RowBatch, full: boolean): void {
  store.saveDelta({
    pipelineHead: p.deltaHead(),
    pipelineRows: rows,
    pipelineFull: full,
    alertRows: new RowWriter().finish(),
    alertsFull: false,
    sparkplug: new Uint8Array(0),
    savedAt: 0,
    logPosition: 0,
  });
}

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

/** runSegments over a pipeline's deltas saved to `store`: `check` compares what the store restores with the state at each capture's start. */
export function runPipelineSegments<O, G extends { ops: readonly O[]; steps: readonly number[]; outcome: string; copyBudget: number }>(
  segments: readonly G[],
  store: MemoryStateStore,
  h: { apply(o: O): void; pipeline(): Pipeline; restart(saved: Uint8Array): void; check(saved: Uint8Array, atStart: Uint8Array): void },
): void {
  runSegments(segments, {
    apply: (o: O) => h.apply(o),
    begin: (seg: G) => {
      const atStart = h.pipeline().snapshot();
      return { delta: h.pipeline().beginDelta(seg.copyBudget), atStart };
    },
    saved: (rows, full, atStart, outcome) => {
      savePipelineRows(store, h.pipeline(), rows, full);
      h.check(store.load()!.pipeline, atStart);
      if (outcome === 'restart') h.restart(store.load()!.pipeline);
    },
  });
}

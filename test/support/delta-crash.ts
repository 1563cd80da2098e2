import { Pipeline } from '../../gateway/pipeline/pipeline.js';
import { restoreSnapshot, takeSnapshot } from '../../gateway/pipeline/snapshot.js';
import type { DeviceMessage, PipelineSettings } from '../../gateway/pipeline/types.js';
import { RowWriter } from '../../gateway/persist/rows.js';
import type { CheckpointDelta } from '../../gateway/state/checkpoint-store.js';

/**
 * The workload of test/integration/checkpoint-crash.test.ts, shared by the child that gets killed
 * (delta-crash-child.ts) and the test that checks what it left: message i is a pure function of i, logged at
 * position i with receive time T + i, so the state after positions 1..n is known without the child.
 */
export const T = 1_700_000_000_000;
export const SETTINGS: PipelineSettings = { intervalMs: 1000, allowedLatenessMs: 500, correctionHorizonMs: 5000, dedupHorizonMs: 5000 };
export const DEVICES = 101;

export function messageOf(i: number): DeviceMessage {
  const device = `d${(i * 7919) % DEVICES}`;
  // Event time moves on with i (windows close, horizons evict); every 13th message repeats an earlier one (a duplicate).
  // Every other one has no dedup key: a replay of it onto a state that already holds it would count it twice.
  const ts = T + 10 * (i % 13 === 0 ? i - 26 : i);
  return {
    device,
    ts,
    tsFromDevice: i % 2 === 0,
    seq: undefined,
    readings: [
      { sensor: 'a', value: i % 97 },
      { sensor: 'b', value: (i * 3) % 101 },
    ],
  };
}

export const recordOf = (i: number) => ({ topic: `devices/${messageOf(i).device}/telemetry`, payload: Buffer.from(String(i)), receivedAt: T + i });

/** The pipeline's state in a canonical form: devices by name. */
export function canonical(p: Pipeline): Buffer {
  const { devices, pending } = restoreSnapshot(p.snapshot(), SETTINGS.intervalMs);
  return takeSnapshot(SETTINGS.intervalMs, new Map([...devices].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), pending);
}

export const newPipeline = (snapshot?: Uint8Array) => new Pipeline(SETTINGS, { window: () => {} }, snapshot);

/** A delta of the pipeline alone (no alerts), for a log position. */
export function deltaOf(p: Pipeline, d: ReturnType<Pipeline['beginDelta']>, logPosition: number): CheckpointDelta {
  return {
    pipelineHead: p.deltaHead(),
    pipelineRows: d.finish(),
    pipelineFull: d.full,
    alertRows: new RowWriter().finish(),
    alertsFull: false,
    sparkplug: new Uint8Array(0),
    savedAt: Date.now(),
    logPosition,
  };
}

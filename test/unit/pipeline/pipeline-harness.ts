import { Pipeline } from '../../../gateway/pipeline/pipeline.js';
import type { DeviceMessage, PipelineSettings, Reading, WindowPoint } from '../../../gateway/pipeline/types.js';

export const T0 = 1_699_999_200_000; // 2023-11-14T22:00Z: a multiple of every interval used here

/** A pipeline of device d1 (10 s windows unless `settings` say otherwise) that records what it hands out. */
export function harness(settings: Partial<PipelineSettings> = {}) {
  const windows: WindowPoint[] = [];
  const readings: Reading[] = [];
  const p = new Pipeline(
    { intervalMs: 10_000, allowedLatenessMs: 5_000, correctionHorizonMs: 60_000, dedupHorizonMs: 60_000, ...settings },
    { window: (w) => windows.push(w), reading: (r) => readings.push({ ...r }) },
  );
  /** Ingests and returns a copy of the outcome (the pipeline reuses its object). */
  const send = (msg: Partial<DeviceMessage> & { ts: number; readings: DeviceMessage['readings'] }, arrival = msg.ts) => ({
    ...p.ingest({ device: 'd1', tsFromDevice: true, seq: undefined, ...msg }, arrival),
  });
  const one = (ts: number, value: number, arrival = ts, sensor = 't') => send({ ts, readings: [{ sensor, value }] }, arrival);
  return { p, windows, readings, send, one };
}

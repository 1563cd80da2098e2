/**
 * The domain types that flow through the pipeline. Everything here is plain data: serialisable, no
 * broker or sink types, so the same pipeline can later run behind another ingest log (docs/durability.md, "Interfaces").
 */

/** One decoded message object from a device: one element of a telemetry array, or one sensor publish. */
export interface DeviceMessage {
  readonly device: string;
  /** Event time in epoch ms: the device's `ts`, or the gateway's receive time when it sent none. */
  readonly ts: number;
  /** True when the device sent `ts` itself; dedup then keys readings by (device, sensor, ts). */
  readonly tsFromDevice: boolean;
  /** The device's message sequence number, when sent; dedup keys the message by (device, seq) if it sent no ts. */
  readonly seq: number | undefined;
  readonly readings: readonly SensorValue[];
  /**
   * Replayed history (Sparkplug `is_historical`): the readings go into their windows (correcting emitted ones
   * like any late data) but are not handed to `PipelineOutput.reading`, so alert state and live values stay.
   */
  readonly historical?: boolean;
}

export interface SensorValue {
  readonly sensor: string;
  readonly value: number;
}

/** One accepted reading, as handed to windows and alerts. */
export interface Reading {
  readonly device: string;
  readonly sensor: string;
  readonly ts: number;
  readonly value: number;
}

/**
 * The aggregate of one sensor over one tumbling window [start, start + interval), as written to InfluxDB.
 * `revision` is 0 for the first emission and grows with each late-data correction of the same window.
 */
export interface WindowPoint {
  readonly device: string;
  readonly sensor: string;
  readonly start: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly first: number;
  readonly last: number;
  readonly count: number;
  readonly revision: number;
}

export interface PipelineSettings {
  readonly intervalMs: number;
  readonly allowedLatenessMs: number;
  readonly correctionHorizonMs: number;
  readonly dedupHorizonMs: number;
  /**
   * Distinct sensors one device may have (pipeline.maxSensorsPerDevice); readings of a further name are refused
   * (IngestOutcome.tooManySensors), those of known sensors are not. Default: no bound.
   */
  readonly maxSensorsPerDevice?: number;
  /**
   * Retained windows per chunk of an incremental checkpoint (pipeline/retained-chunks.ts; default CHUNK_WINDOWS).
   * Not a config key: tests set it small to have many chunks.
   */
  readonly chunkWindows?: number;
}

import { DeviceState, SensorState } from './state.js';
import { countRecords, readRecord, recordLength, writeRecord } from './window.js';

/**
 * The pipeline's whole state as plain JSON data (numbers in flat arrays, no object per reading), for graceful
 * restart and crash replay: restoring it and continuing emits exactly what an uninterrupted run would.
 * Orders matter and are kept: devices and sensors in map order, `pending` in the order `tick` visits them.
 */
export interface PipelineSnapshot {
  readonly version: 1;
  /** Windows are aligned to this interval; a snapshot cannot be restored under another one. */
  readonly intervalMs: number;
  readonly devices: readonly DeviceSnapshot[];
  readonly sensors: readonly SensorSnapshot[];
  /** Indexes into `sensors` of those with unemitted windows, in the order `tick` closes them. */
  readonly pending: readonly number[];
}

/** [device name, greatest ts of its seq-keyed messages (null if none), flat seq/ts pairs in insertion order]. */
export type DeviceSnapshot = readonly [name: string, seqMaxTs: number | null, seqs: readonly number[]];

/** [index into devices, sensor, maxTs, lastArrival, dedup ts keys ascending, open window records, sealed records]. */
export type SensorSnapshot = readonly [
  device: number,
  sensor: string,
  maxTs: number,
  lastArrival: number,
  seen: readonly number[],
  open: readonly number[],
  sealed: readonly number[],
];

export class PipelineSnapshotError extends Error {
  override readonly name = 'PipelineSnapshotError';
}

export function takeSnapshot(intervalMs: number, devices: Map<string, DeviceState>, pending: Set<SensorState>): PipelineSnapshot {
  const devs: DeviceSnapshot[] = [];
  const sensors: SensorSnapshot[] = [];
  const index = new Map<SensorState, number>();
  for (const d of devices.values()) {
    const seqs: number[] = [];
    if (d.seqs !== null) for (const [seq, ts] of d.seqs) seqs.push(seq, ts);
    const di = devs.push([d.name, d.seqs === null ? null : d.seqMaxTs, seqs]) - 1;
    for (const s of d.sensors.values()) {
      const open: number[] = [];
      for (const w of s.open) writeRecord(open, w);
      index.set(s, sensors.length);
      sensors.push([di, s.sensor, s.maxTs, s.lastArrival, s.seen.slice(s.seenHead), open, s.sealed.slice()]);
    }
  }
  const pend: number[] = [];
  for (const s of pending) pend.push(index.get(s) as number);
  return { version: 1, intervalMs, devices: devs, sensors, pending: pend };
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isNums = (x: unknown): x is number[] => Array.isArray(x) && x.every(isNum);

/** Rebuilds the state; throws PipelineSnapshotError when the snapshot is malformed or for another interval. */
export function restoreSnapshot(
  snap: PipelineSnapshot,
  intervalMs: number,
): { devices: Map<string, DeviceState>; pending: Set<SensorState> } {
  const fail = (why: string): never => {
    throw new PipelineSnapshotError(`pipeline snapshot rejected: ${why}`);
  };
  if (snap === null || typeof snap !== 'object' || snap.version !== 1) fail('unknown version');
  if (snap.intervalMs !== intervalMs) fail(`taken with interval ${snap.intervalMs}ms, configured ${intervalMs}ms`);
  if (!Array.isArray(snap.devices) || !Array.isArray(snap.sensors) || !Array.isArray(snap.pending)) fail('missing lists');

  const devices = new Map<string, DeviceState>();
  const byIndex: DeviceState[] = [];
  for (const entry of snap.devices) {
    const [name, seqMaxTs, seqs] = entry;
    if (typeof name !== 'string' || devices.has(name)) fail('bad device entry');
    if (!(seqMaxTs === null || isNum(seqMaxTs)) || !isNums(seqs) || seqs.length % 2 !== 0) fail(`bad seq state of ${name}`);
    const d = new DeviceState(name);
    if (seqMaxTs !== null) {
      d.seqMaxTs = seqMaxTs;
      d.seqs = new Map();
      for (let i = 0; i < seqs.length; i += 2) d.seqs.set(seqs[i] as number, seqs[i + 1] as number);
    }
    devices.set(name, d);
    byIndex.push(d);
  }

  const sensors: SensorState[] = [];
  for (const entry of snap.sensors) {
    const [di, name, maxTs, lastArrival, seen, open, sealed] = entry;
    const d = byIndex[di];
    if (d === undefined || typeof name !== 'string' || d.sensors.has(name)) fail('bad sensor entry');
    if (!isNum(maxTs) || !isNum(lastArrival) || !isNums(seen) || !isNums(open) || !isNums(sealed)) fail(`bad state of sensor ${name}`);
    const nOpen = countRecords(open);
    const nSealed = countRecords(sealed);
    if (nOpen < 0 || nSealed < 0) fail(`bad window records of sensor ${name}`);
    const s = new SensorState(d!.name, name);
    s.maxTs = maxTs;
    s.lastArrival = lastArrival;
    s.seen = seen.slice();
    for (let at = 0; at < open.length; at += recordLength(open, at)) s.open.push(readRecord(open, at));
    s.sealed = sealed.slice();
    s.sealedCount = nSealed;
    for (let at = 0; at < sealed.length; at += recordLength(sealed, at)) s.sealedMaxStart = sealed[at] as number;
    d!.sensors.set(name, s);
    sensors.push(s);
  }

  const pending = new Set<SensorState>();
  for (const i of snap.pending) {
    const s = sensors[i];
    if (s === undefined || s.open.length === 0 || pending.has(s)) fail('bad pending list');
    pending.add(s!);
  }
  for (const s of sensors) if (s.open.length > 0 && !pending.has(s)) fail(`sensor ${s.sensor} has open windows but is not pending`);
  return { devices, pending };
}

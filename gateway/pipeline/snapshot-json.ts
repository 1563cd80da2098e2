import { PipelineSnapshotError } from './snapshot-error.js';
import { loadSeen, seenKeys } from './seen-keys.js';
import { DeviceState, SensorState } from './state.js';
import { countRecords, HEADER, readRecord, recordLength, writeRecord } from './window.js';

/**
 * Snapshot versions 1 and 2, as gateways wrote them into state.db before version 3 (snapshot-binary.ts): restore
 * still reads them; the writer is kept for tests of that path (and as the readable reference of the format).
 *
 * The pipeline's whole state as plain JSON data (numbers in flat arrays, no object per reading), for graceful
 * restart and crash replay: restoring it and continuing emits exactly what an uninterrupted run would.
 * Orders matter and are kept: devices and sensors in map order, `pending` in the order `tick` visits them.
 *
 * Version 2 stores epoch-ms numbers as differences (see `encodeSeen`, `encodeRecords`): dedup keys and window
 * starts are most of a checkpoint, and as 13-digit doubles they made JSON.stringify the checkpoint's main
 * cost; as small integers they serialise several times faster and take a third of the space. A state
 * whose differences would not add back exactly (non-integer timestamps, never seen from the wire) is
 * written as version 1, plain numbers, which restore still reads.
 */
export interface JsonPipelineSnapshot {
  readonly version: 1 | 2;
  /** Windows are aligned to this interval; a snapshot cannot be restored under another one. */
  readonly intervalMs: number;
  readonly devices: readonly DeviceSnapshot[];
  readonly sensors: readonly SensorSnapshot[];
  /** Indexes into `sensors` of those with unemitted windows, in the order `tick` closes them. */
  readonly pending: readonly number[];
}

/** [device name, greatest ts of its seq-keyed messages (null if none), flat seq/ts pairs in insertion order]. */
export type DeviceSnapshot = readonly [name: string, seqMaxTs: number | null, seqs: readonly number[]];

/**
 * [index into devices, sensor, maxTs, lastArrival, dedup ts keys ascending, open window records, sealed records];
 * in version 2 the keys and records are delta-encoded.
 */
export type SensorSnapshot = readonly [
  device: number,
  sensor: string,
  maxTs: number,
  lastArrival: number,
  seen: readonly number[],
  open: readonly number[],
  sealed: readonly number[],
];

export function takeJsonSnapshot(intervalMs: number, devices: Map<string, DeviceState>, pending: Set<SensorState>): JsonPipelineSnapshot {
  return buildSnapshot(intervalMs, devices, pending, true) ?? (buildSnapshot(intervalMs, devices, pending, false) as JsonPipelineSnapshot);
}

/** undefined when `delta` is asked for and some difference would not add back exactly. */
function buildSnapshot(intervalMs: number, devices: Map<string, DeviceState>, pending: Set<SensorState>, delta: boolean): JsonPipelineSnapshot | undefined {
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
      if (!delta) {
        sensors.push([di, s.sensor, s.maxTs, s.lastArrival, seenKeys(s), open, s.sealed.slice()]);
        continue;
      }
      const seen = encodeSeen(seenKeys(s));
      const sealed = s.sealed.slice();
      if (seen === undefined || !encodeRecords(open) || !encodeRecords(sealed)) return undefined;
      sensors.push([di, s.sensor, s.maxTs, s.lastArrival, seen, open, sealed]);
    }
  }
  const pend: number[] = [];
  for (const s of pending) pend.push(index.get(s) as number);
  return { version: delta ? 2 : 1, intervalMs, devices: devs, sensors, pending: pend };
}

/**
 * [first key, then the difference of each key to the one before, where a run of n >= 3 equal differences d is
 * written -n, d]: keys are ascending and unique, so a difference is > 0 and a negative entry marks a run. A
 * sensor sampled at a steady rate (the common case) then takes a few entries whatever its number of keys.
 * undefined if a difference is not > 0 or does not add back exactly.
 */
function encodeSeen(a: readonly number[]): number[] | undefined {
  const out: number[] = [];
  if (a.length === 0) return out;
  let prev = a[0] as number;
  out.push(prev);
  let run = 0;
  let runD = 0;
  for (let i = 1; i <= a.length; i++) {
    let d = NaN;
    if (i < a.length) {
      const x = a[i] as number;
      d = x - prev;
      if (!(d > 0) || prev + d !== x) return undefined;
      prev = x;
      if (d === runD) {
        run++;
        continue;
      }
    }
    if (run >= 3) out.push(-run, runD);
    else for (let k = 0; k < run; k++) out.push(runD);
    run = 1;
    runD = d;
  }
  return out;
}

/** The inverse; a malformed list decodes to one holding NaN, which restore rejects. */
function decodeSeen(a: readonly number[]): number[] {
  const out: number[] = [];
  if (a.length === 0) return out;
  let prev = a[0] as number;
  out.push(prev);
  for (let i = 1; i < a.length; i++) {
    const e = a[i] as number;
    if (e > 0) out.push((prev += e));
    else if (Number.isInteger(e) && e <= -3 && i + 1 < a.length && (a[i + 1] as number) > 0) {
      const d = a[++i] as number;
      for (let k = 0; k > e; k--) out.push((prev += d));
    } else return [NaN];
  }
  return out;
}

/**
 * In place, over well-formed records (window.ts layout): start becomes the difference to the previous record's
 * start (the first: to 0), firstTs and lastTs their offsets from the start. False if one would not add back.
 */
function encodeRecords(a: number[]): boolean {
  let prev = 0;
  for (let at = 0; at < a.length; at += recordLength(a, at)) {
    const start = a[at] as number;
    const ds = start - prev;
    const f = (a[at + 4] as number) - start;
    const l = (a[at + 6] as number) - start;
    if (prev + ds !== start || start + f !== a[at + 4] || start + l !== a[at + 6]) return false;
    a[at] = ds;
    a[at + 4] = f;
    a[at + 6] = l;
    prev = start;
  }
  return true;
}

/** The inverse, on a copy; stops where the records turn malformed (countRecords then rejects them). */
function decodeRecords(a: readonly number[]): number[] {
  const out = a.slice();
  let prev = 0;
  for (let at = 0; at + HEADER <= out.length; ) {
    const start = (prev += out[at] as number);
    out[at] = start;
    out[at + 4] = start + (out[at + 4] as number);
    out[at + 6] = start + (out[at + 6] as number);
    const np = out[at + 9] as number;
    const nb = out[at + 10] as number;
    if (!Number.isInteger(np) || !Number.isInteger(nb) || np < 0 || nb < 0) break;
    at += HEADER + np + nb;
  }
  return out;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isNums = (x: unknown): x is number[] => Array.isArray(x) && x.every(isNum);

/** Rebuilds the state; throws PipelineSnapshotError when the snapshot is malformed or for another interval. */
export function restoreJsonSnapshot(
  snap: JsonPipelineSnapshot,
  intervalMs: number,
): { devices: Map<string, DeviceState>; pending: Set<SensorState> } {
  const fail = (why: string): never => {
    throw new PipelineSnapshotError(`pipeline snapshot rejected: ${why}`);
  };
  if (snap === null || typeof snap !== 'object' || (snap.version !== 1 && snap.version !== 2)) fail('unknown version');
  const delta = snap.version === 2;
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
    const [di, name, maxTs, lastArrival, seenIn, openIn, sealedIn] = entry;
    if (!isNums(seenIn) || !isNums(openIn) || !isNums(sealedIn)) fail(`bad state of sensor ${name}`);
    const seen = delta ? decodeSeen(seenIn) : seenIn;
    const open = delta ? decodeRecords(openIn) : openIn;
    const sealed = delta ? decodeRecords(sealedIn) : sealedIn.slice();
    const d = byIndex[di];
    if (d === undefined || typeof name !== 'string' || d.sensors.has(name)) fail('bad sensor entry');
    if (!isNum(maxTs) || !isNum(lastArrival) || !isNums(seen) || !isNums(open) || !isNums(sealed)) fail(`bad state of sensor ${name}`);
    const nOpen = countRecords(open);
    const nSealed = countRecords(sealed);
    if (nOpen < 0 || nSealed < 0) fail(`bad window records of sensor ${name}`);
    const s = new SensorState(d!.name, name);
    s.maxTs = maxTs;
    s.lastArrival = lastArrival;
    loadSeen(s, seen as number[]);
    for (let at = 0; at < open.length; at += recordLength(open, at)) s.open.push(readRecord(open, at));
    s.sealed = sealed;
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

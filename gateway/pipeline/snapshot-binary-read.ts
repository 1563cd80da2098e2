import type { ByteReader } from '../persist/byte-codec.js';
import { FORMATS } from '../persist/formats.js';
import { readBlob, readDelta } from '../persist/frame.js';
import { PipelineSnapshotError } from './snapshot-error.js';
import { loadSeen } from './seen-keys.js';
import { DeviceState, SensorState } from './state.js';
import { HEADER, readRecord } from './window.js';

/**
 * Reads a pipeline snapshot (layout in snapshot-binary.ts) back into live state. Called once, at start. The
 * CRC trailer refuses a torn or damaged file before anything is decoded; the checks below refuse whatever
 * else would not be a state the pipeline can reach (duplicate names, unsorted keys or windows, a pending list
 * that disagrees with the open windows), so a bad snapshot is a PipelineSnapshotError, never a wrong state.
 */
export function decodeSnapshot(bytes: Uint8Array, intervalMs: number): { devices: Map<string, DeviceState>; pending: Set<SensorState> } {
  try {
    return readBlob(bytes, FORMATS.pipelineSnapshot, (r) => read(r, intervalMs));
  } catch (err) {
    if (err instanceof PipelineSnapshotError) throw err;
    throw new PipelineSnapshotError(`pipeline snapshot rejected: ${(err as Error).message}`, { cause: err });
  }
}

const fail = (why: string): never => {
  throw new PipelineSnapshotError(`pipeline snapshot rejected: ${why}`);
};

function read(r: ByteReader, intervalMs: number): { devices: Map<string, DeviceState>; pending: Set<SensorState> } {
  const interval = r.num();
  if (interval !== intervalMs) fail(`taken with interval ${interval}ms, configured ${intervalMs}ms`);
  const nDevices = r.count(3);
  let withOpen = 0;
  const devices = new Map<string, DeviceState>();
  for (let i = 0; i < nDevices; i++) withOpen += withOpenWindows(readDevice(r, devices));
  // Exactly the sensors with open windows, each once.
  const nPending = r.count(2);
  const pending = new Set<SensorState>();
  for (let i = 0; i < nPending; i++) {
    const device = r.str();
    const sensor = r.str();
    const s = devices.get(device)?.sensors.get(sensor);
    if (s === undefined || s.open.length === 0 || pending.has(s)) fail('bad pending list');
    pending.add(s!);
  }
  if (pending.size !== withOpen) fail('a sensor has open windows but is not pending');
  return { devices, pending };
}

/**
 * Reads one device (snapshot-binary.ts, "per device") into `devices`. Also the body of a row of an
 * incremental checkpoint (snapshot-rows.ts).
 */
export function readDevice(r: ByteReader, devices: Map<string, DeviceState>): DeviceState {
  const d = new DeviceState(r.str());
  if (devices.has(d.name)) fail(`duplicate device ${d.name}`);
  devices.set(d.name, d);
  const hasSeqs = r.u8();
  if (hasSeqs === 1) readSeqs(r, d);
  else if (hasSeqs !== 0) fail(`bad seq flag of device ${d.name}`);
  const nSensors = r.count(6);
  for (let k = 0; k < nSensors; k++) {
    const s = new SensorState(d.name, r.str());
    if (d.sensors.has(s.sensor)) fail(`duplicate sensor ${d.name}/${s.sensor}`);
    d.sensors.set(s.sensor, s);
    s.maxTs = r.num();
    s.lastArrival = r.num();
    loadSeen(s, readSeen(r));
    const open = readRecords(r);
    for (let at = 0; at < open.a.length; at += HEADER + open.a[at + 9]! + open.a[at + 10]!) s.open.push(readRecord(open.a, at));
    const sealed = readRecords(r);
    s.sealed = sealed.a;
    s.sealedCount = sealed.n;
    s.sealedMaxStart = sealed.lastStart;
  }
  return d;
}

/** How many sensors of `d` have open windows (each must be pending). */
export function withOpenWindows(d: DeviceState): number {
  let n = 0;
  for (const s of d.sensors.values()) if (s.open.length > 0) n++;
  return n;
}

function readSeqs(r: ByteReader, d: DeviceState): void {
  d.seqMaxTs = r.num();
  const n = r.count(2);
  const delta = readDelta(r, `seq list of device ${d.name}`);
  const seqs = (d.seqs = new Map());
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const seq = r.num();
    const ts = delta ? (prev += r.num()) : r.num();
    if (!Number.isFinite(ts)) fail(`bad seq state of device ${d.name}`);
    seqs.set(seq, ts);
  }
  if (seqs.size !== n) fail(`duplicate seq of device ${d.name}`);
}

/** Dedup keys, strictly ascending. */
function readSeen(r: ByteReader): number[] {
  const n = r.uvar();
  const delta = readDelta(r, 'dedup list');
  const out: number[] = [];
  let prev = -Infinity;
  const push = (x: number) => {
    if (!(x > prev) || !Number.isFinite(x)) fail('dedup keys not ascending');
    out.push((prev = x));
  };
  if (!delta) {
    for (let i = 0; i < n; i++) push(r.num());
  } else {
    if (n > 0) push(r.num());
    while (out.length < n) {
      const e = r.num();
      if (e > 0) push(prev + e);
      else if (Number.isInteger(e) && e <= -3 && out.length - e <= n) {
        const d = r.num();
        if (!(d > 0)) fail('bad run of dedup keys');
        for (let k = 0; k > e; k--) push(prev + d);
      } else fail('bad dedup key entry');
    }
  }
  return out;
}

/** A list of window records (window.ts layout) as one flat array, starts strictly ascending. */
function readRecords(r: ByteReader): { a: number[]; n: number; lastStart: number } {
  const n = r.count(11);
  const delta = readDelta(r, 'window list');
  const a: number[] = [];
  let prev = 0;
  let lastStart = -Infinity;
  for (let i = 0; i < n; i++) {
    const start = delta ? prev + r.num() : r.num();
    const count = r.num();
    const min = r.num();
    const max = r.num();
    let firstTs = r.num();
    const first = r.num();
    let lastTs = r.num();
    const last = r.num();
    const rev = r.num();
    const np = r.count();
    const nb = r.count();
    if (delta) {
      firstTs += start;
      lastTs += start;
    }
    const ok = start > lastStart && Number.isFinite(start) && Number.isFinite(firstTs) && Number.isFinite(lastTs) && firstTs <= lastTs && min <= max;
    if (!ok || !Number.isInteger(count) || count < 1 || !Number.isInteger(rev) || rev < 0) fail('bad window record');
    a.push(start, count, min, max, firstTs, first, lastTs, last, rev, np, nb);
    for (let k = np + nb; k > 0; k--) a.push(r.num());
    prev = lastStart = start;
  }
  return { a, n, lastStart };
}

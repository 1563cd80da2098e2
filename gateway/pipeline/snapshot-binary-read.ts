import type { ByteReader } from '../persist/byte-codec.js';
import { FORMATS } from '../persist/formats.js';
import { readBlob, readDelta } from '../persist/frame.js';
import { PipelineSnapshotError } from './snapshot-error.js';
import { loadRetained } from './retained.js';
import { hasSeen, loadSeen } from './seen-keys.js';
import { DeviceState, SensorState } from './state.js';
import { Win } from './window.js';

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
  for (let i = 0; i < nDevices; i++) withOpen += withOpenWindows(readDevice(r, devices, intervalMs));
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
 * Reads one device (snapshot-binary.ts, "per device") into `devices`. Also the body of a device row of an
 * incremental checkpoint (snapshot-rows-read.ts), whose `sealed` field is read by `sealed`.
 */
export function readDevice(
  r: ByteReader,
  devices: Map<string, DeviceState>,
  intervalMs: number,
  sealed?: (r: ByteReader, s: SensorState) => void,
): DeviceState {
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
    const runs = readRuns(r);
    const ring = readSeen(r);
    loadSeen(s, runs, []);
    for (const x of ring) if (hasSeen(s, x)) fail('a dedup key both in a run and alone');
    loadSeen(s, runs, ring);
    s.open = readOpen(r);
    if (sealed !== undefined) sealed(r, s);
    else {
      const nSealed = r.count(3);
      if (nSealed > 0) {
        const firstStart = r.num();
        loadRetained(s, r.bytes(r.count()), nSealed, firstStart, intervalMs);
      }
    }
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

/** Runs of dedup keys (seen-keys.ts): safe integers, each run after the previous one. */
function readRuns(r: ByteReader): number[] {
  const n = r.count(3);
  const runs: number[] = [];
  let prevLast = -Infinity;
  for (let i = 0; i < n; i++) {
    const first = r.num();
    const step = r.num();
    const count = r.uvar();
    const last = first + (count - 1) * step;
    const ok = Number.isSafeInteger(first) && !Object.is(first, -0) && Number.isSafeInteger(step) && step > 0 && count >= 1 && Number.isSafeInteger(last);
    if (!ok || !(first > prevLast)) fail('bad run of dedup keys');
    runs.push(first, step, count);
    prevLast = last;
  }
  return runs;
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

/** Open windows (layout in snapshot-binary.ts), starts strictly ascending. */
function readOpen(r: ByteReader): Win[] {
  const n = r.count(11);
  const delta = readDelta(r, 'window list');
  const out: Win[] = [];
  let prev = 0;
  let lastStart = -Infinity;
  for (let i = 0; i < n; i++) {
    const start = delta ? prev + r.num() : r.num();
    const w = new Win(start, 0);
    w.count = r.num();
    w.min = r.num();
    w.max = r.num();
    w.firstTs = r.num();
    w.first = r.num();
    w.lastTs = r.num();
    w.last = r.num();
    w.rev = r.num();
    const np = r.count();
    const nb = r.count();
    if (delta) {
      w.firstTs += start;
      w.lastTs += start;
    }
    const ok =
      start > lastStart && Number.isFinite(start) && Number.isFinite(w.firstTs) && Number.isFinite(w.lastTs) && w.firstTs <= w.lastTs && w.min <= w.max;
    if (!ok || !Number.isInteger(w.count) || w.count < 1 || !Number.isInteger(w.rev) || w.rev < 0) fail('bad window record');
    for (let k = 0; k < np; k++) w.partials.push(r.num());
    if (nb > 0) {
      w.big = [];
      for (let k = 0; k < nb; k++) w.big.push(r.num());
    }
    out.push(w);
    prev = lastStart = start;
  }
  return out;
}

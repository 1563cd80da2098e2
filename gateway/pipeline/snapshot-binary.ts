import type { ByteWriter } from '../persist/byte-codec.js';
import { FORMATS } from '../persist/formats.js';
import { exact, writeDeltaOrPlain, writeHeader as writeFrame } from '../persist/frame.js';
import { type KeyRing, ringSize, ringSlot } from './key-ring.js';
import type { DeviceState, SensorState } from './state.js';
import type { Win } from './window.js';

/**
 * The pipeline snapshot's layout (FORMATS.pipelineSnapshot; framing, CRC and DELTA/PLAIN fallback in
 * persist/frame.ts): the state written straight from the live maps into one Buffer, with no intermediate object
 * or array per sensor. At 100k sensors a JSON snapshot made every checkpoint build ~140 MiB of short-lived
 * objects plus a ~40 MiB string, so V8 kept an old generation of twice the retained state; this one allocates a
 * Buffer outside the heap and an array of the pending sensors.
 *
 * Layout (num = byte-codec number, uvar = varint, str = string, mode = DELTA or PLAIN):
 *   header  intervalMs:num  devices:uvar
 *   per device, in the order written (snapshot-capture.ts: not always map order):
 *                              name:str  hasSeqs:u8 [seqMaxTs:num  n:uvar  mode:u8  n x (seq:num, ts:num)]
 *                              sensors:uvar
 *     per sensor, in map order: name:str  maxTs:num  lastArrival:num
 *                               runs: n:uvar  n x (first:num step:num count:uvar)
 *                               seen (the ring's keys): n:uvar mode:u8 items
 *                               open: n:uvar mode:u8 records
 *                               sealed: n:uvar [firstStart:num  bytes:uvar  the sensor's retained records as
 *                                       they are (window-record.ts)]
 *   pending:uvar  per pending sensor, in the order `tick` visits them: device:str sensor:str
 *   CRC-32
 * Each list is written in DELTA mode when every difference adds back exactly (always, for integer epoch-ms
 * timestamps), else in PLAIN mode.
 *  - runs (seen-keys.ts): as held; a steady sensor's dedup keys are one run.
 *  - seen, DELTA: the first key, then differences to the previous key (> 0, keys ascend); a run of n >= 3 equal
 *    differences d is written -n, d: a steady sensor's keys take a few bytes.
 *  - seqs, DELTA: ts as the difference to the previous pair's ts (the first: to 0).
 *  - open records [start count min max firstTs first lastTs last rev nPartials nBig partials... big...], DELTA: start as the difference to the previous record's start (the first: to 0),
 *    firstTs and lastTs as offsets from the start.
 * Pending sensors are named rather than numbered: an index would need a Map over all sensors while writing
 * (~16 MiB of garbage at 100k sensors, and a third of the time), names cost a few bytes each.
 */
export function writeHeader(w: ByteWriter, intervalMs: number, devices: number): void {
  writeFrame(w, FORMATS.pipelineSnapshot);
  w.num(intervalMs);
  w.uvar(devices);
}

export function writePending(w: ByteWriter, pending: readonly SensorState[]): void {
  w.uvar(pending.length);
  for (let i = 0; i < pending.length; i++) {
    const s = pending[i]!;
    w.str(s.device);
    w.str(s.sensor);
  }
}

export function writeDevice(w: ByteWriter, d: DeviceState, sealed: SealedWriter = writeSealed): void {
  w.str(d.name);
  if (d.seqs === null) w.u8(0);
  else {
    w.u8(1);
    N[0] = d.seqMaxTs;
    w.numAt(N, 0);
    w.uvar(d.seqs.size);
    writeDeltaOrPlain(w, writeSeqs, d.seqs);
  }
  w.uvar(d.sensors.size);
  for (const s of d.sensors.values()) {
    w.str(s.sensor);
    N[0] = s.maxTs;
    N[1] = s.lastArrival;
    w.numAt(N, 0);
    w.numAt(N, 1);
    const runs = s.runs;
    w.uvar(runs.length / 3);
    for (let i = 0; i < runs.length; i += 3) {
      w.numAt(runs, i);
      w.numAt(runs, i + 1);
      w.uvar(runs[i + 2]!);
    }
    w.uvar(ringSize(s));
    writeDeltaOrPlain(w, writeSeen, s);
    w.uvar(s.open.length);
    writeDeltaOrPlain(w, writeOpen, s.open);
    sealed(w, s);
  }
}

/** Writes a sensor's retained windows: the whole snapshot's `sealed` field, or a device row's (snapshot-rows.ts). */
export type SealedWriter = (w: ByteWriter, s: SensorState) => void;

/** sealed: n:uvar [firstStart:num  bytes:uvar  the records as they are]. */
function writeSealed(w: ByteWriter, s: SensorState): void {
  w.uvar(s.sealedCount);
  if (s.sealedCount > 0) {
    N[0] = s.sealedFirstStart;
    w.numAt(N, 0);
    w.uvar(s.sealedBytes);
    w.bytes(s.sealed, 0, s.sealedBytes);
  }
}

/** Scratch for numbers on their way to the writer (see ByteWriter.numAt): no boxed double per number. */
export const N = new Float64Array(12);

function writeSeqs(w: ByteWriter, delta: boolean, seqs: Map<number, number>): boolean {
  N[2] = 0; // the previous ts
  for (const [seq, ts] of seqs) {
    N[0] = seq;
    N[1] = ts;
    if (delta) {
      const d = ts - N[2]!;
      if (!exact(N[2]! + d, ts)) return false;
      N[1] = d;
      N[2] = ts;
    }
    w.numAt(N, 0);
    w.numAt(N, 1);
  }
  return true;
}

function writeSeen(w: ByteWriter, delta: boolean, s: KeyRing): boolean {
  const n = ringSize(s);
  if (n === 0) return true;
  if (delta) return writeSeenDelta(w, s);
  for (let i = 0; i < n; i++) w.numAt(s.seen, ringSlot(s, i));
  return true;
}

/**
 * False when a difference is not > 0 or does not add back exactly (the caller rewinds). Walks the ring as its
 * two contiguous segments with the run in locals (a checkpoint reads every dedup key: ~1.6x faster than
 * indexing through seenAt); N[3..5] carry the previous key, the run length and its difference between them.
 */
function writeSeenDelta(w: ByteWriter, s: KeyRing): boolean {
  const a = s.seen;
  const h = s.seenHead;
  const n = ringSize(s);
  w.numAt(a, h);
  N[3] = a[h] as number;
  N[4] = 0;
  N[5] = NaN; // equal to no difference: the first one starts a run
  const end = h + n < a.length ? h + n : a.length;
  if (!writeDeltaRuns(w, a, h + 1, end) || !writeDeltaRuns(w, a, 0, h + n - end)) return false;
  writeRun(w);
  return true;
}

/** The keys a[from..to) as runs of equal differences; see writeSeenDelta. */
function writeDeltaRuns(w: ByteWriter, a: readonly number[], from: number, to: number): boolean {
  let prev = N[3]!;
  let run = N[4]!;
  let runD = N[5]!;
  for (let j = from; j < to; j++) {
    const x = a[j] as number;
    const d = x - prev;
    // The common case (the run goes on, and adds back exactly) costs two comparisons.
    if (d !== runD || prev + d !== x || x === 0) {
      if (!(d > 0) || prev + d !== x || (x === 0 && 1 / (prev + d) !== 1 / x)) return false;
      if (d !== runD) {
        N[4] = run;
        N[5] = runD;
        writeRun(w);
        run = 0;
        runD = d;
      }
    }
    run++;
    prev = x;
  }
  N[3] = prev;
  N[4] = run;
  N[5] = runD;
  return true;
}

/** The run of N[4] differences N[5]: n >= 3 as -n, d; fewer as themselves. */
function writeRun(w: ByteWriter): void {
  const run = N[4]!;
  if (run === 0) return;
  N[0] = -run;
  N[1] = N[5]!;
  if (run >= 3) {
    w.numAt(N, 0);
    w.numAt(N, 1);
  } else for (let k = 0; k < run; k++) w.numAt(N, 1);
}

/**
 * Writes the 11 header fields of a record, put in N[0..10] by the caller; N[11] holds the previous record's
 * start (0 before the first) and is advanced. False in DELTA mode when a difference would not add back exactly.
 */
function writeHead(w: ByteWriter, delta: boolean): boolean {
  const start = N[0]!;
  if (delta) {
    const ds = start - N[11]!;
    const f = N[4]! - start;
    const l = N[6]! - start;
    if (!exact(N[11]! + ds, start) || !exact(start + f, N[4]!) || !exact(start + l, N[6]!)) return false;
    N[0] = ds;
    N[4] = f;
    N[6] = l;
  }
  for (let k = 0; k < 9; k++) w.numAt(N, k);
  w.uvar(N[9]!);
  w.uvar(N[10]!);
  N[11] = start;
  return true;
}

function writeOpen(w: ByteWriter, delta: boolean, open: readonly Win[]): boolean {
  N[11] = 0;
  for (let i = 0; i < open.length; i++) {
    const x = open[i]!;
    N[0] = x.start;
    N[1] = x.count;
    N[2] = x.min;
    N[3] = x.max;
    N[4] = x.firstTs;
    N[5] = x.first;
    N[6] = x.lastTs;
    N[7] = x.last;
    N[8] = x.rev;
    N[9] = x.partials.length;
    N[10] = x.big === null ? 0 : x.big.length;
    if (!writeHead(w, delta)) return false;
    for (let k = 0; k < x.partials.length; k++) w.numAt(x.partials, k);
    if (x.big !== null) for (let k = 0; k < x.big.length; k++) w.numAt(x.big, k);
  }
  return true;
}

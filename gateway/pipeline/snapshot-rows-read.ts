import type { ByteReader } from '../persist/byte-codec.js';
import { FORMATS } from '../persist/formats.js';
import { hasMagic, readBlob } from '../persist/frame.js';
import { unpackRows } from '../persist/rows.js';
import { joinPieces, type Piece } from './retained-chunks.js';
import { adoptRetained } from './retained.js';
import { readDevice, withOpenWindows } from './snapshot-binary-read.js';
import { PipelineSnapshotError } from './snapshot-error.js';
import type { DeviceState, SensorState } from './state.js';

const fail = (why: string): never => {
  throw new PipelineSnapshotError(`pipeline snapshot rejected: ${why}`);
};

/** A sensor's `sealed` field of its device row, until the chunk rows are all read. */
interface Sealed {
  readonly s: SensorState;
  readonly count: number;
  readonly firstStart: number;
  readonly tail: Piece;
}

/**
 * The state of a part kept as rows (persist/rows.ts packRows of the head and every row; layout in
 * snapshot-rows.ts), as decodeSnapshot gives it for a whole snapshot: the same checks, every row's CRC, the
 * pending sensors in ascending pendingAt, and each sensor's retained windows put back together from its chunk
 * rows and the tail in its device row, byte for byte as they were (retained-chunks.ts joinPieces).
 */
export function decodeRows(
  bytes: Uint8Array,
  intervalMs: number,
  decodeWhole: (b: Uint8Array, intervalMs: number) => { devices: Map<string, DeviceState> },
): { devices: Map<string, DeviceState>; pending: Set<SensorState> } {
  let parts: { head: Uint8Array; rows: Uint8Array[] };
  try {
    parts = unpackRows(bytes);
  } catch (err) {
    throw new PipelineSnapshotError(`pipeline snapshot rejected: ${(err as Error).message}`, { cause: err });
  }
  // The head is a whole snapshot of no device: it checks the interval.
  if (decodeWhole(parts.head, intervalMs).devices.size !== 0) fail('the head of a row checkpoint holds devices');
  const devices = new Map<string, DeviceState>();
  const order: { at: number; s: SensorState }[] = [];
  const sealed: Sealed[] = [];
  const chunks = new Map<string, Piece[]>();
  const readSealed = (r: ByteReader, s: SensorState): void => {
    // Every retained window of the sensor, most of them in its chunk rows (checked once they are joined).
    const count = r.uvar();
    if (count === 0) return;
    const firstStart = r.num();
    const tailStart = r.num();
    sealed.push({ s, count, firstStart, tail: { firstStart: tailStart, bytes: r.bytes(r.count()) } });
  };
  let withOpen = 0;
  try {
    for (const row of parts.rows) {
      if (isChunk(row))
        readBlob(row, FORMATS.pipelineChunk, (r) => {
          const device = r.str();
          for (let n = r.count(3); n > 0; n--) {
            const key = `${device}\u0000${r.str()}`;
            const piece = { firstStart: r.num(), bytes: r.bytes(r.count()) };
            const list = chunks.get(key);
            if (list === undefined) chunks.set(key, [piece]);
            else list.push(piece);
          }
        });
      else
        readBlob(row, FORMATS.pipelineRow, (r) => {
          withOpen += readRow(r, devices, order, intervalMs, readSealed);
        });
    }
    for (const { s, count, firstStart, tail } of sealed) {
      const key = `${s.device}\u0000${s.sensor}`;
      const pieces = chunks.get(key) ?? [];
      chunks.delete(key);
      pieces.push(tail);
      const joined = joinPieces(pieces, count, firstStart, intervalMs);
      adoptRetained(s, joined.bytes, joined.size, count, firstStart, joined.maxStart);
    }
  } catch (err) {
    if (err instanceof PipelineSnapshotError) throw err;
    throw new PipelineSnapshotError(`pipeline snapshot rejected: ${(err as Error).message}`, { cause: err });
  }
  if (chunks.size > 0) fail('retained window chunks of a sensor that retains none');
  order.sort((a, b) => a.at - b.at);
  const pending = new Set<SensorState>();
  for (let i = 0; i < order.length; i++) {
    if (i > 0 && order[i - 1]!.at === order[i]!.at) fail('bad pending order');
    pending.add(order[i]!.s);
  }
  if (pending.size !== withOpen) fail('a sensor has open windows but is not pending');
  return { devices, pending };
}

/** A chunk row (its magic), else a device row (checked by readBlob). */
function isChunk(row: Uint8Array): boolean {
  return hasMagic(row, FORMATS.pipelineChunk);
}

function readRow(
  r: ByteReader,
  devices: Map<string, DeviceState>,
  order: { at: number; s: SensorState }[],
  intervalMs: number,
  readSealed: (r: ByteReader, s: SensorState) => void,
): number {
  const n = r.count(2);
  const names: { sensor: string; at: number }[] = [];
  for (let i = 0; i < n; i++) names.push({ sensor: r.str(), at: r.num() });
  const d = readDevice(r, devices, intervalMs, readSealed);
  const withOpen = withOpenWindows(d);
  for (const { sensor, at } of names) {
    const s = d.sensors.get(sensor);
    if (s === undefined || s.open.length === 0 || !Number.isSafeInteger(at) || at <= 0) fail('bad pending list');
    s!.pendingAt = at;
    order.push({ at, s: s! });
  }
  if (names.length !== withOpen) fail('a sensor has open windows but is not pending');
  return withOpen;
}

import { ByteWriter, keepWriterMap } from '../persist/byte-codec.js';
import { FORMATS } from '../persist/formats.js';
import { exact, writeDeltaOrPlain, writeHeader } from '../persist/frame.js';
import type { SensorAlerts } from './snapshot.js';
import { SEVERITIES, type AlertEvent, type AlertRule } from './types.js';

/**
 * The alert snapshot's layout (FORMATS.alertSnapshot; framing, CRC and DELTA/PLAIN fallback in persist/frame.ts):
 * the engine's state and the service's firing events written straight from the live maps into one Buffer, with
 * no object per sensor. Called by the checkpointer every few seconds: at 100k sensors a JSON form built ~13 MiB
 * of objects and ~8 MiB of JSON text per checkpoint.
 *
 * Layout (num = byte-codec number, uvar = varint, str = string, time = see below):
 *   header  mode:u8  savedAt:num
 *   per device with at least one watched sensor, in map order:  sensors:uvar (>= 1)  name:str
 *     per watched sensor, in map order:  name:str  newestTs:time  lastValue:num  alerts:uvar
 *       per alert that is not ok, in slot order:  rule:uvar (index in the rule table)  state:u8  since:time  firedAt:time
 *   0 (end of the devices)
 *   rules:uvar  per rule, in order of first use:  name:str  kind:u8  matchDevice:str  matchSensor:str
 *   firing:uvar  per firing event, in map order:  device:str sensor:str rule:str severity:u8 value:num
 *                                                 hasThreshold:u8 [threshold:num]  ts:time  since:time
 *   CRC-32
 * state = phase (1 pending, 2 firing) | 4 when the side is `below`. kind: 0 threshold, 1 noData. severity: the
 * index in SEVERITIES.
 * time, DELTA mode: the difference to the previous time written (the first: to savedAt), so the timestamps of a
 * sensor and its neighbours take a byte or two. When some difference does not add back exactly (never for
 * integer epoch-ms), the whole body is written in PLAIN mode instead: each time as a num.
 * Rules are a table rather than repeated per alert: a few rules watch many sensors.
 */
export const PENDING = 1;
export const FIRING = 2;
export const BELOW = 4;

/** The engine's live state: device -> sensor -> state, null where nothing matches a rule. */
export type LiveSensors = ReadonlyMap<string, ReadonlyMap<string, SensorAlerts | null> | null>;

/**
 * `firing`: the service's firing events (any key); `sizeHint`: the previous snapshot's size, so the buffer
 * rarely grows.
 */
export function encodeAlertSnapshot(savedAt: number, devices: LiveSensors, firing: ReadonlyMap<unknown, AlertEvent>, sizeHint = 0): Buffer {
  const w = new ByteWriter(sizeHint * 1.1 + 4096);
  writeAlertSnapshot(w, savedAt, devices, firing);
  return w.finish();
}

/** The snapshot without its CRC trailer, into `w` (also one row per device: alerts/snapshot-rows.ts). */
export function writeAlertSnapshot(w: ByteWriter, savedAt: number, devices: LiveSensors, firing: ReadonlyMap<unknown, AlertEvent>): void {
  writeHeader(w, FORMATS.alertSnapshot);
  writeDeltaOrPlain(w, writeBody, { savedAt, devices, firing });
}

function writeBody(w: ByteWriter, delta: boolean, state: { savedAt: number; devices: LiveSensors; firing: ReadonlyMap<unknown, AlertEvent> }): boolean {
  return new BodyWriter(w, delta).write(state.savedAt, state.devices, state.firing);
}

/**
 * Scratch for numbers on their way to the writer (see ByteWriter.numAt): T[0] the number to write, T[1] the
 * previous time (DELTA mode). No boxed double per number.
 */
const T = new Float64Array(2);

/** One pass over the state. Map.forEach with `this` as thisArg: no closure and no iterator result per entry. */
class BodyWriter {
  /** False once a DELTA difference did not add back exactly: writeDeltaOrPlain rewinds and writes PLAIN. */
  private ok = true;
  private count = 0;
  private readonly rules = new Map<AlertRule, number>();

  constructor(
    private readonly w: ByteWriter,
    private readonly delta: boolean,
  ) {}

  write(savedAt: number, devices: LiveSensors, firing: ReadonlyMap<unknown, AlertEvent>): boolean {
    const w = this.w;
    T[0] = T[1] = savedAt;
    w.numAt(T, 0);
    devices.forEach(this.device, this);
    if (!this.ok) return false;
    w.uvar(0);
    w.uvar(this.rules.size);
    for (const r of this.rules.keys()) {
      w.str(r.name);
      w.u8(r.kind === 'threshold' ? 0 : 1);
      w.str(r.match.device);
      w.str(r.match.sensor);
    }
    w.uvar(firing.size);
    firing.forEach(this.event, this);
    return this.ok;
  }

  /** Writes the time in T[0]. */
  private time(): void {
    if (this.delta) {
      const x = T[0]!;
      const d = x - T[1]!;
      if (!exact(T[1]! + d, x)) this.ok = false;
      T[1] = x;
      T[0] = d;
    }
    this.w.numAt(T, 0);
  }

  private device(sensors: ReadonlyMap<string, SensorAlerts | null> | null, name: string): void {
    if (sensors === null || !this.ok) return;
    this.count = 0;
    sensors.forEach(this.countSensor, this);
    if (this.count === 0) return;
    this.w.uvar(this.count);
    this.w.str(name);
    sensors.forEach(this.sensor, this);
  }

  private countSensor(e: SensorAlerts | null): void {
    if (e !== null) this.count++;
  }

  private sensor(e: SensorAlerts | null): void {
    if (e === null) return;
    const w = this.w;
    w.str(e.sensor);
    T[0] = e.newestTs;
    this.time();
    T[0] = e.lastValue;
    w.numAt(T, 0);
    const slots = e.slots;
    let n = 0;
    for (let i = 0; i < slots.length; i++) if (slots[i]!.phase !== 'ok') n++;
    w.uvar(n);
    for (let i = 0; n > 0 && i < slots.length; i++) {
      const s = slots[i]!;
      if (s.phase === 'ok') continue;
      let index = this.rules.get(s.rule);
      if (index === undefined) this.rules.set(s.rule, (index = this.rules.size));
      w.uvar(index);
      w.u8((s.phase === 'firing' ? FIRING : PENDING) | (s.side === 'below' ? BELOW : 0));
      T[0] = s.since;
      this.time();
      T[0] = s.firedAt;
      this.time();
    }
  }

  private event(e: AlertEvent): void {
    const w = this.w;
    w.str(e.device);
    w.str(e.sensor);
    w.str(e.rule);
    w.u8(SEVERITIES.indexOf(e.severity));
    T[0] = e.value;
    w.numAt(T, 0);
    if (e.threshold === null) w.u8(0);
    else {
      w.u8(1);
      T[0] = e.threshold;
      w.numAt(T, 0);
    }
    T[0] = e.ts;
    this.time();
    T[0] = e.since;
    this.time();
  }
}

/**
 * Keeps BodyWriter's hidden class alive between checkpoints, as keepWriterMap does ByteWriter's: otherwise V8
 * drops the map at a full GC and deoptimizes the writer, and the next snapshot ran ~4x slower, unoptimized.
 */
export const keepBodyWriterMap = new BodyWriter(keepWriterMap, true);

import { RowCapture, type RowBatch } from '../persist/rows.js';
import { type LiveSensors, writeAlertSnapshot } from './snapshot-binary.js';
import type { SensorAlerts } from './snapshot.js';
import type { AlertEvent } from './types.js';

/**
 * The alerts' part of an incremental checkpoint: one row per device (key: the device name) whose value is a
 * whole alert snapshot (snapshot-binary.ts) of that device alone, with its firing events; a device with no
 * watched sensor left has its row deleted. Only the devices changed since the last checkpoint are written
 * (AlertEngine marks them); restore merges the rows (snapshot-binary-read.ts).
 */
export interface AlertDelta {
  readonly full: boolean;
  /** Writes up to `maxDevices` more rows; true when only `finish` is left. */
  step(maxDevices: number): boolean;
  finish(): RowBatch;
  /** Drops the capture, or after a failed save gives its devices back to the next one. */
  abort(): void;
}

/** The firing event the service keeps for an alert (its retained message), if any. */
export type FiringOf = (rule: string, device: string, sensor: string) => AlertEvent | undefined;

/** What passing over a device already written costs a step, against 1 for writing one (a Set lookup against a row). */
const SKIP_WORK = 1 / 8;

/**
 * Written a few devices at a time while readings go on, yet the state when it began: the engine calls
 * `preserve(device)` before it changes a device, and a member not written yet is written then (a row is a few
 * dozen bytes: writing it costs about what a copy would). Members: the devices in `list` (every device, and
 * any created later, for a full capture).
 */
export class AlertDeltaCapture extends RowCapture<{ members: ReadonlySet<string> | null }> implements AlertDelta {
  private readonly written = new Set<string>();
  private walked = false;
  /** Scratch: the one device and its firing events handed to the snapshot writer. */
  private readonly one = new Map<string, ReadonlyMap<string, SensorAlerts | null>>();
  private readonly firing = new Map<string, AlertEvent>();

  /**
   * `members`: the devices changed in the generation (the engine's dirty set of it, no longer changed), or null
   * for a full capture; `walk` visits them (a full capture: the engine's live device map, whose iteration also
   * visits devices added meanwhile, written by then).
   */
  constructor(
    private readonly members: ReadonlySet<string> | null,
    private readonly walk: Iterator<string>,
    private readonly devices: LiveSensors,
    private readonly firingOf: FiringOf,
    private readonly savedAt: number,
    sizeHint: number,
    onEnd: (bytes: number, requeue: { members: ReadonlySet<string> | null } | null) => void,
  ) {
    super(sizeHint, onEnd);
  }

  get full(): boolean {
    return this.members === null;
  }

  preserve(device: string): void {
    if (this.ended || this.written.has(device) || (this.members !== null && !this.members.has(device))) return;
    this.write(device);
  }

  /**
   * Bounded by work, not by rows: a device written counts 1, a device passed over (written already, by `preserve`
   * while the capture ran) SKIP_WORK. Under steady load most devices are written by `preserve` before the walk
   * reaches them, and a step that counted only rows walked them all in one go (~33k at 100k sensors: 4-12 ms in
   * one turn, BENCHMARKS.md "Checkpoint turns at 100k sensors").
   */
  step(maxDevices: number): boolean {
    for (let work = 0; work < maxDevices && !this.walked;) {
      const next = this.walk.next();
      if (next.done === true) this.walked = true;
      else if (this.written.has(next.value)) work += SKIP_WORK;
      else {
        this.write(next.value);
        work++;
      }
    }
    return this.walked;
  }

  protected requeue(): { members: ReadonlySet<string> | null } {
    return { members: this.members };
  }

  private write(device: string): void {
    this.written.add(device);
    const rows = this.rows;
    rows.begin(device);
    const sensors = this.devices.get(device);
    let watched = 0;
    if (sensors) {
      for (const e of sensors.values()) {
        if (e === null) continue;
        watched++;
        for (const s of e.slots) {
          if (s.phase !== 'firing') continue;
          const ev = this.firingOf(s.rule.name, device, e.sensor);
          if (ev !== undefined) this.firing.set(`${s.rule.name}\u0000${e.sensor}`, ev);
        }
      }
    }
    // No watched sensor: the row goes (a full capture replaced every row: nothing to delete).
    if (watched === 0) return this.full ? rows.cancel() : rows.end(true);
    this.one.set(device, sensors!);
    writeAlertSnapshot(rows.w, this.savedAt, this.one, this.firing);
    this.one.clear();
    this.firing.clear();
    rows.end();
  }
}

/**
 * The engine's delta bookkeeping: the devices whose saved state changed since the last delta began (the engine
 * calls `touch` before every such change: copy-on-write for a capture in progress too), and whether the next
 * delta must write every device (the first one, after a restore, after a failed full one).
 */
export class AlertDeltas {
  private dirty = new Set<string>();
  private needFull = true;
  private capture: AlertDeltaCapture | null = null;
  private bytes = 0;

  touch(device: string): void {
    if (this.capture !== null) this.capture.preserve(device);
    this.dirty.add(device);
  }

  /** The engine's state was replaced. */
  restored(): void {
    this.capture?.abort();
    this.needFull = true;
    this.dirty = new Set();
  }

  begin(devices: LiveSensors, firingOf: FiringOf, savedAt: number): AlertDelta {
    if (this.capture !== null) throw new Error('an alert delta is already being captured');
    const members = this.needFull ? null : this.dirty;
    this.needFull = false;
    this.dirty = new Set();
    const walk = members === null ? devices.keys() : members.values();
    const c: AlertDeltaCapture = new AlertDeltaCapture(members, walk, devices, firingOf, savedAt, this.bytes, (bytes, requeue) => {
      if (this.capture === c) this.capture = null;
      if (bytes > 0) this.bytes = bytes;
      if (requeue === null) return;
      if (requeue.members === null) this.needFull = true;
      else for (const d of requeue.members) this.dirty.add(d);
    });
    return (this.capture = c);
  }
}

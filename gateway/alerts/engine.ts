import type { Reading } from '../pipeline/types.js';
import { newSlot, sameAlert, stepNoDataReading, stepNoDataStale, stepNoDataTick, stepThreshold, thresholdOf, type Slot, type Transition } from './condition.js';
import { compileGlob, type Matcher } from './glob.js';
import { restoreSensors, toSnapshot, type AlertSnapshot, type RestoreResult } from './snapshot.js';
import { encodeAlertSnapshot } from './snapshot-binary.js';
import { AlertDeltas, type AlertDelta, type FiringOf } from './snapshot-rows.js';
import { decodeAlertSnapshot } from './snapshot-binary-read.js';
import type { AlertEvent, AlertRule, FiringAlert } from './types.js';

/**
 * Per-sensor alert evaluation. Pure apart from the injected clock: no timers, no I/O. The composition root
 * calls onReading for every accepted reading, tick(now) on the gateway tick (noData), and setRules on hot
 * reload; it publishes the returned events. Single-threaded, so every method is atomic.
 *
 * Late readings (ts older than the newest ts seen for the sensor) change no alert state and do not count
 * as a sign of life for noData.
 */

export interface AlertEngineOptions {
  /** Gateway clock: noData silence, and the ts of resolves caused by rule changes. */
  readonly now?: () => number;
  /** Cap on cached "matches no rule" keys, so garbage sensor names cannot grow memory without bound. */
  readonly maxUnmatchedKeys?: number;
}

interface CompiledRule {
  readonly rule: AlertRule;
  readonly device: Matcher;
  readonly sensor: Matcher;
}

/** State of one (device, sensor) that matches at least one rule. */
interface Entry {
  readonly device: string;
  readonly sensor: string;
  newestTs: number;
  lastValue: number;
  /** Gateway time of the last in-order reading; kept current only while the entry has a noData rule. */
  lastSeen: number;
  slots: Slot[];
  hasNoData: boolean;
}

/** Returned when nothing changed; shared and frozen so the hot path allocates nothing. */
export const NO_EVENTS: readonly AlertEvent[] = Object.freeze([]);

/** sensor -> its state, or null when it matches no rule. */
type SensorMap = Map<string, Entry | null>;

export class AlertEngine {
  private readonly clock: () => number;
  private readonly maxUnmatched: number;
  private compiled: readonly CompiledRule[] = [];
  /**
   * device -> sensor -> state; null at either level when nothing there matches a rule. Nested rather than
   * one Map on `device + sep + sensor`: that key costs an allocation, a flatten and a hash per reading,
   * which measured ~5x slower than two lookups on the reading's own (hash-cached) strings. A device no
   * rule's device glob matches costs one lookup; a watched device's unwatched sensor two.
   */
  private readonly devices = new Map<string, SensorMap | null>();
  /** Null entries at both levels, bounded by maxUnmatched. */
  private unmatched = 0;
  /** Entries with at least one noData rule, scanned by tick(). */
  private readonly silentCandidates = new Set<Entry>();
  /** Incremental checkpoint captures and the devices changed since the last (snapshot-rows.ts). */
  private readonly deltas = new AlertDeltas();

  constructor(rules: readonly AlertRule[] = [], opts: AlertEngineOptions = {}) {
    this.clock = opts.now ?? Date.now;
    this.maxUnmatched = opts.maxUnmatchedKeys ?? 100_000;
    this.compiled = rules.map(compile);
  }

  rules(): readonly AlertRule[] {
    return this.compiled.map((c) => c.rule);
  }

  /**
   * Hot path. Returns the state changes this reading caused: NO_EVENTS (shared) when none, or `out` with
   * the events appended when the caller passes its own array.
   */
  onReading(r: Reading, out?: AlertEvent[]): readonly AlertEvent[] {
    if (this.compiled.length === 0) return out ?? NO_EVENTS;
    let sensors = this.devices.get(r.device);
    if (sensors === null) return out ?? NO_EVENTS;
    if (sensors === undefined) {
      sensors = this.admitDevice(r.device);
      if (sensors === null) return out ?? NO_EVENTS;
    }
    let e = sensors.get(r.sensor);
    if (e === null) return out ?? NO_EVENTS;
    if (e === undefined) {
      this.deltas.touch(r.device);
      e = this.admit(sensors, r.device, r.sensor);
      if (e === null) return out ?? NO_EVENTS;
    } else {
      if (r.ts < e.newestTs) return out ?? NO_EVENTS;
      this.deltas.touch(r.device);
    }
    e.newestTs = r.ts;
    e.lastValue = r.value;
    if (e.hasNoData) e.lastSeen = this.clock();
    let events = out;
    for (const s of e.slots) {
      const t = s.rule.kind === 'threshold' ? stepThreshold(s, s.rule, r.value, r.ts) : stepNoDataReading(s, r.ts);
      if (t !== null) (events ??= []).push(this.event(e, s, t, r.value, r.ts));
    }
    return events ?? NO_EVENTS;
  }

  /** Gateway tick: fires noData alerts of sensors silent for at least their rule's noData. */
  tick(now: number = this.clock(), out?: AlertEvent[]): readonly AlertEvent[] {
    let events = out;
    for (const e of this.silentCandidates) {
      // The gateway clock went back (NTP step, RTC reset): measure silence from now rather than wait for the
      // clock to catch up with a last-seen time in its future (which would hold noData off for that long).
      if (e.lastSeen > now) e.lastSeen = now;
      for (const s of e.slots) {
        if (s.rule.kind !== 'noData') continue;
        // stepNoDataTick changes the slot exactly then: the device is written before (beginDelta).
        if (s.phase !== 'firing' && now - e.lastSeen >= s.rule.noDataMs) this.deltas.touch(e.device);
        if (stepNoDataTick(s, s.rule, e.lastSeen, now) !== null) (events ??= []).push(this.event(e, s, 'fired', e.lastValue, now));
      }
    }
    return events ?? NO_EVENTS;
  }

  /**
   * Every sensor of `device` is stale as of `now` (its Sparkplug edge node or device died): their noData rules
   * fire at once instead of after their noData silence. A sensor no rule has seen yet has nothing to fire.
   */
  staleNow(device: string, now: number = this.clock(), out?: AlertEvent[]): readonly AlertEvent[] {
    const sensors = this.devices.get(device);
    let events = out;
    if (sensors) {
      this.deltas.touch(device);
      for (const e of sensors.values()) {
        if (e === null || !e.hasNoData) continue;
        for (const s of e.slots) {
          if (s.rule.kind === 'noData' && stepNoDataStale(s, e.lastSeen, now) !== null) (events ??= []).push(this.event(e, s, 'fired', e.lastValue, now));
        }
      }
    }
    return events ?? NO_EVENTS;
  }

  /**
   * Atomically replaces the rules. An alert keeps its state when its rule keeps name, match and kind (other
   * parameters take effect from the sensor's next reading); alerts of removed or re-matched rules are
   * dropped, and those that were firing are resolved: the returned events (ts = since = now, value = the
   * sensor's last value). A noData rule new to a known sensor measures silence from now.
   */
  setRules(rules: readonly AlertRule[], now: number = this.clock()): AlertEvent[] {
    this.compiled = rules.map(compile);
    const events: AlertEvent[] = [];
    for (const [device, sensors] of this.devices) {
      if (sensors === null) {
        this.devices.delete(device); // may match a new rule: re-decided on the next reading
        continue;
      }
      this.deltas.touch(device);
      for (const [sensor, e] of sensors) {
        if (e === null) sensors.delete(sensor);
        else this.reslot(e, now, events);
        if (e?.slots.length === 0) sensors.delete(sensor);
      }
      if (sensors.size === 0) this.devices.delete(device);
    }
    this.unmatched = 0;
    return events;
  }

  /** Re-decides which rules watch `e`, keeping the state of alerts whose rule kept its identity. */
  private reslot(e: Entry, now: number, events: AlertEvent[]): void {
    const old = e.slots;
    const slots = this.matching(e.device, e.sensor).map((c) => {
      const kept = old.find((s) => sameAlert(s.rule, c.rule));
      if (!kept) return newSlot(c.rule, now);
      kept.rule = c.rule;
      return kept;
    });
    for (const s of old) {
      if (s.phase === 'firing' && !slots.includes(s)) events.push(this.event(e, s, 'resolved', e.lastValue, now));
    }
    const hadNoData = e.hasNoData;
    this.attach(e, slots);
    if (e.hasNoData && !hadNoData) e.lastSeen = now;
  }

  private *entries(): Generator<Entry> {
    for (const sensors of this.devices.values()) {
      if (sensors === null) continue;
      for (const e of sensors.values()) if (e !== null) yield e;
    }
  }

  /** Alerts firing now, in no particular order. */
  firing(): FiringAlert[] {
    const list: FiringAlert[] = [];
    for (const e of this.entries()) {
      for (const s of e.slots) {
        if (s.phase !== 'firing') continue;
        list.push({
          rule: s.rule.name,
          kind: s.rule.kind,
          device: e.device,
          sensor: e.sensor,
          severity: s.rule.severity,
          since: s.since,
          firedAt: s.firedAt,
          value: e.lastValue,
          threshold: thresholdOf(s),
        });
      }
    }
    return list;
  }

  /** The alert state as a plain value (see snapshot.ts): tests and tools; checkpoints use encodeSnapshot. */
  snapshot(): AlertSnapshot {
    return toSnapshot(this.entries(), this.clock());
  }

  /**
   * The alert state as bytes written straight from the live maps, with the caller's firing events
   * (snapshot-binary.ts). Called by every checkpoint. `sizeHint`: the previous snapshot's byte length.
   */
  encodeSnapshot(firing: ReadonlyMap<unknown, AlertEvent> = new Map(), sizeHint?: number): Buffer {
    return encodeAlertSnapshot(this.clock(), this.devices, firing, sizeHint);
  }

  /**
   * Replaces all state with the one `bytes` hold (encodeSnapshot), under the current
   * rules: call after setRules/constructor and before the first reading. Saved alerts whose rule no longer
   * exists (same name, match and kind) are dropped. The gateway cannot know what sensors sent while it was
   * down, so noData silence is measured from `now`. A malformed snapshot is an error result; state is untouched.
   */
  restore(bytes: Uint8Array, now: number = this.clock()): RestoreResult {
    const parsed = decodeAlertSnapshot(bytes);
    return parsed.ok ? this.restoreSnapshot(parsed.snapshot, now) : parsed;
  }

  /** restore() of a decoded snapshot (decodeAlertSnapshot). */
  restoreSnapshot(snapshot: AlertSnapshot, now: number = this.clock()): Extract<RestoreResult, { ok: true }> {
    this.deltas.restored();
    this.devices.clear();
    this.silentCandidates.clear();
    this.unmatched = 0;
    const restored = restoreSensors(snapshot, (device, sensor) => this.matching(device, sensor).map((c) => c.rule), now);
    for (const r of restored.sensors) {
      const e: Entry = { device: r.device, sensor: r.sensor, newestTs: r.newestTs, lastValue: r.lastValue, lastSeen: now, slots: [], hasNoData: false };
      this.attach(e, r.slots);
      let map = this.devices.get(r.device);
      if (!map) this.devices.set(r.device, (map = new Map()));
      map.set(r.sensor, e);
    }
    return { ok: true, sensors: restored.sensors.length, alerts: restored.alerts };
  }

  /**
   * Starts capturing the devices whose alert state changed since the last delta began (all of them the first
   * time, after a restore, or after a failed full one) as rows of an incremental checkpoint
   * (snapshot-rows.ts), written in steps while readings go on, yet the state when it began. `firingOf`: the
   * service's firing event of an alert.
   */
  beginDelta(firingOf: FiringOf): AlertDelta {
    return this.deltas.begin(this.devices, firingOf, this.clock());
  }

  /** First reading of a device: null when no rule's device glob matches it. */
  private admitDevice(device: string): SensorMap | null {
    const sensors: SensorMap | null = this.compiled.some((c) => c.device(device)) ? new Map() : null;
    if (sensors === null && ++this.unmatched > this.maxUnmatched) this.forgetUnmatched();
    this.devices.set(device, sensors);
    return sensors;
  }

  /** First reading of a (device, sensor): decide once which rules watch it. */
  private admit(sensors: SensorMap, device: string, sensor: string): Entry | null {
    const matching = this.matching(device, sensor);
    if (matching.length === 0) {
      if (++this.unmatched > this.maxUnmatched) this.forgetUnmatched();
      sensors.set(sensor, null);
      return null;
    }
    const now = this.clock();
    const e: Entry = { device, sensor, newestTs: -Infinity, lastValue: NaN, lastSeen: now, slots: [], hasNoData: false };
    this.attach(
      e,
      matching.map((c) => newSlot(c.rule, now)),
    );
    sensors.set(sensor, e);
    return e;
  }

  private attach(e: Entry, slots: Slot[]): void {
    e.slots = slots;
    e.hasNoData = slots.some((s) => s.rule.kind === 'noData');
    if (e.hasNoData) this.silentCandidates.add(e);
    else this.silentCandidates.delete(e);
  }

  private matching(device: string, sensor: string): CompiledRule[] {
    return this.compiled.filter((c) => c.device(device) && c.sensor(sensor));
  }

  /** Drops every cached "no rule" decision (they are re-made on demand); keeps all alert state. */
  private forgetUnmatched(): void {
    for (const [device, sensors] of this.devices) {
      if (sensors === null) {
        this.devices.delete(device);
        continue;
      }
      for (const [sensor, e] of sensors) if (e === null) sensors.delete(sensor);
      if (sensors.size === 0) this.devices.delete(device);
    }
    this.unmatched = 0;
  }

  private event(e: Entry, s: Slot, t: NonNullable<Transition>, value: number, ts: number): AlertEvent {
    return {
      device: e.device,
      sensor: e.sensor,
      rule: s.rule.name,
      state: t === 'fired' ? 'firing' : 'resolved',
      severity: s.rule.severity,
      value,
      threshold: thresholdOf(s),
      ts,
      since: t === 'fired' ? s.since : ts,
    };
  }
}

function compile(rule: AlertRule): CompiledRule {
  return { rule, device: compileGlob(rule.match.device), sensor: compileGlob(rule.match.sensor) };
}

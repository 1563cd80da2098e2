import type { Reading } from '../pipeline/types.js';
import { AlertState, compileRule, type Entry } from './alert-state.js';
import { newSlot, sameAlert, stepNoDataReading, stepNoDataStale, stepNoDataTick, stepThreshold, thresholdOf, type Slot, type Transition } from './condition.js';
import type { AlertEvent, AlertRule, FiringAlert } from './types.js';

export type { AlertEngineOptions } from './alert-state.js';

/** Returned when nothing changed; shared and frozen so the hot path allocates nothing. */
export const NO_EVENTS: readonly AlertEvent[] = Object.freeze([]);

/**
 * Per-sensor alert evaluation. Pure apart from the injected clock: no timers, no I/O. The composition root
 * calls onReading for every accepted reading, tick(now) on the gateway tick (noData), and setRules on hot
 * reload; it publishes the returned events. Single-threaded, so every method is atomic.
 *
 * Late readings (ts older than the newest ts seen for the sensor) change no alert state and do not count
 * as a sign of life for noData. The state it evaluates against, its snapshot and restore: alert-state.ts.
 */
export class AlertEngine extends AlertState {
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
    this.compiled = rules.map(compileRule);
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

import type { AlertRule, NoDataRule, ThresholdRule } from './types.js';

/**
 * The state machine of one alert (rule, device, sensor), as plain mutable data plus pure transition
 * functions. The engine owns one Slot per alert and calls these on the hot path, so they allocate nothing
 * and report a transition as a string literal instead of an event object.
 *
 * Threshold: ok -> pending (violating, `for` not yet elapsed) -> firing -> ok.
 *   - violating: value > above, or value < below.
 *   - pending -> ok without an event as soon as a reading does not violate.
 *   - pending -> firing on the first violating reading with ts - since >= for (so for = 0 fires at once).
 *   - firing -> ok only when the value is inside [below + hysteresis, above - hysteresis].
 * noData: ok -> firing (tick: silent for >= noData) -> ok (next reading).
 */

export type Phase = 'ok' | 'pending' | 'firing';

export interface Slot {
  rule: AlertRule;
  phase: Phase;
  /** When the current phase began (see AlertEvent.since). */
  since: number;
  /** When the alert last fired (AlertEvent.ts of the firing event); meaningful while firing. */
  firedAt: number;
  /** Which limit of a threshold rule was last violated: decides AlertEvent.threshold. */
  side: 'above' | 'below';
}

/** null: nothing changed (the common case). */
export type Transition = 'fired' | 'resolved' | null;

export function newSlot(rule: AlertRule, now: number): Slot {
  return { rule, phase: 'ok', since: now, firedAt: 0, side: 'above' };
}

/**
 * An alert's identity across rule reloads and restarts: rule name, kind and match. A rule that keeps it keeps
 * its alerts' state; one that changes any of them starts afresh.
 */
export function sameAlert(a: AlertRule, b: { name: string; kind: string; match: { device: string; sensor: string } }): boolean {
  return a.name === b.name && a.kind === b.kind && a.match.device === b.match.device && a.match.sensor === b.match.sensor;
}

export function thresholdOf(slot: Slot): number | null {
  const r = slot.rule;
  if (r.kind === 'noData') return null;
  return slot.side === 'above' ? r.above : r.below;
}

/** Feeds one in-order reading to a threshold alert. */
export function stepThreshold(slot: Slot, rule: ThresholdRule, value: number, ts: number): Transition {
  const high = rule.above !== null && value > rule.above;
  const low = !high && rule.below !== null && value < rule.below;
  switch (slot.phase) {
    case 'ok':
      if (!high && !low) return null;
      slot.side = high ? 'above' : 'below';
      slot.since = ts;
      if (rule.forMs === 0) return fire(slot, ts);
      slot.phase = 'pending';
      return null;
    case 'pending':
      if (!high && !low) {
        slot.phase = 'ok';
        slot.since = ts;
        return null;
      }
      slot.side = high ? 'above' : 'below';
      return ts - slot.since >= rule.forMs ? fire(slot, ts) : null;
    case 'firing': {
      if (high || low) {
        slot.side = high ? 'above' : 'below';
        return null;
      }
      const clear = (rule.above === null || value <= rule.above - rule.hysteresis) && (rule.below === null || value >= rule.below + rule.hysteresis);
      if (!clear) return null;
      slot.phase = 'ok';
      slot.since = ts;
      return 'resolved';
    }
  }
}

/** A reading arrived for a noData alert: it proves the sensor alive. */
export function stepNoDataReading(slot: Slot, ts: number): Transition {
  if (slot.phase !== 'firing') return null;
  slot.phase = 'ok';
  slot.since = ts;
  return 'resolved';
}

/** The gateway clock ticked: fire when the sensor has been silent for at least noData. */
export function stepNoDataTick(slot: Slot, rule: NoDataRule, lastSeen: number, now: number): Transition {
  if (slot.phase === 'firing' || now - lastSeen < rule.noDataMs) return null;
  slot.since = lastSeen;
  return fire(slot, now);
}

/** The sensor's source announced its death (Sparkplug NDEATH/DDEATH): fire now, silent since its last reading. */
export function stepNoDataStale(slot: Slot, lastSeen: number, now: number): Transition {
  if (slot.phase === 'firing') return null;
  slot.since = Math.min(lastSeen, now);
  return fire(slot, now);
}

function fire(slot: Slot, ts: number): Transition {
  slot.phase = 'firing';
  slot.firedAt = ts;
  return 'fired';
}

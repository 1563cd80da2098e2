import { newSlot, sameAlert, type Slot } from './condition.js';
import type { AlertRule } from './types.js';

/**
 * The engine's alert state, saved with every checkpoint (as bytes: snapshot-binary.ts) and read back at start,
 * so a firing alert does not fire again (and a pending one keeps its start) across a restart. Alerts are keyed
 * by rule name + match + kind: a saved alert whose rule changed meanwhile is dropped. The types below are the
 * decoded state that restore works from (and what AlertEngine.snapshot() shows tests and tools).
 */
export interface SavedAlert {
  readonly rule: string;
  readonly kind: 'threshold' | 'noData';
  readonly match: { readonly device: string; readonly sensor: string };
  readonly phase: 'ok' | 'pending' | 'firing';
  readonly since: number;
  readonly firedAt: number;
  readonly side: 'above' | 'below';
}

export interface SavedSensor {
  readonly device: string;
  readonly sensor: string;
  /** Newest reading ts seen: readings older than this stay "late" after the restart. */
  readonly newestTs: number;
  readonly lastValue: number;
  readonly alerts: readonly SavedAlert[];
}

export interface AlertSnapshot {
  readonly savedAt: number;
  readonly sensors: readonly SavedSensor[];
}

export type RestoreResult = { readonly ok: true; readonly sensors: number; readonly alerts: number } | { readonly ok: false; readonly error: string };

/** What the engine keeps per watched sensor, as far as a snapshot is concerned. */
export interface SensorAlerts {
  readonly device: string;
  readonly sensor: string;
  readonly newestTs: number;
  readonly lastValue: number;
  readonly slots: readonly Slot[];
}

/** The engine's sensors as a snapshot; only alerts that are not `ok` are saved. */
export function toSnapshot(entries: Iterable<SensorAlerts>, savedAt: number): AlertSnapshot {
  const sensors: SavedSensor[] = [];
  for (const e of entries) {
    sensors.push({
      device: e.device,
      sensor: e.sensor,
      newestTs: e.newestTs,
      lastValue: e.lastValue,
      alerts: e.slots
        .filter((s) => s.phase !== 'ok')
        .map((s) => ({ rule: s.rule.name, kind: s.rule.kind, match: { ...s.rule.match }, phase: s.phase, since: s.since, firedAt: s.firedAt, side: s.side })),
    });
  }
  return { savedAt, sensors };
}

/**
 * Rebuilds the slots of each saved sensor under the current rules (`rulesFor` lists the rules watching a
 * sensor). A sensor no rule watches any more is dropped; a slot takes its saved state when a saved alert has
 * the same identity (sameAlert), except a pending noData alert, which is not a state noData has. Slots start
 * at `now` otherwise. `alerts` counts the alerts whose state was restored.
 */
export function restoreSensors(
  snapshot: AlertSnapshot,
  rulesFor: (device: string, sensor: string) => readonly AlertRule[],
  now: number,
): { sensors: Array<SensorAlerts & { slots: Slot[] }>; alerts: number } {
  const sensors: Array<SensorAlerts & { slots: Slot[] }> = [];
  let alerts = 0;
  for (const saved of snapshot.sensors) {
    const rules = rulesFor(saved.device, saved.sensor);
    if (rules.length === 0) continue;
    const slots = rules.map((rule) => {
      const s = newSlot(rule, now);
      const a = saved.alerts.find((x) => sameAlert(rule, { name: x.rule, kind: x.kind, match: x.match }));
      if (a && !(a.phase === 'pending' && rule.kind === 'noData')) {
        Object.assign(s, { phase: a.phase, since: a.since, firedAt: a.firedAt, side: a.side });
        alerts++;
      }
      return s;
    });
    sensors.push({ device: saved.device, sensor: saved.sensor, newestTs: saved.newestTs, lastValue: saved.lastValue, slots });
  }
  return { sensors, alerts };
}

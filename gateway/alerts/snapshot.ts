import { z } from 'zod';
import { newSlot, sameAlert, type Slot } from './condition.js';
import { decodeAlertSnapshot } from './snapshot-binary-read.js';
import type { AlertEvent, AlertRule } from './types.js';

/**
 * The engine's alert state, saved with every checkpoint and read back at start, so a firing alert does not fire
 * again (and a pending one keeps its start) across a restart. Alerts are keyed by rule name + match + kind: a
 * snapshot entry whose rule changed meanwhile is dropped.
 *
 * Two forms: version 2, a Buffer written straight from the live state (snapshot-binary.ts: what checkpoints hold
 * now), and version 1, the JSON value below (engine.snapshot(); what older gateways left in state.db). Both read
 * into the version 1 shape, which restore works from.
 */

const phase = z.enum(['ok', 'pending', 'firing']);

const savedAlert = z.object({
  rule: z.string(),
  kind: z.enum(['threshold', 'noData']),
  match: z.object({ device: z.string(), sensor: z.string() }),
  phase,
  since: z.number(),
  firedAt: z.number(),
  side: z.enum(['above', 'below']),
});

const savedSensor = z.object({
  device: z.string(),
  sensor: z.string(),
  /** Newest reading ts seen: readings older than this stay "late" after the restart. */
  newestTs: z.number(),
  lastValue: z.number(),
  alerts: z.array(savedAlert),
});

export const alertSnapshotSchema = z.object({
  version: z.literal(1),
  savedAt: z.number(),
  sensors: z.array(savedSensor),
});

export type AlertSnapshot = z.infer<typeof alertSnapshotSchema>;
export type SavedSensor = z.infer<typeof savedSensor>;
export type SavedAlert = z.infer<typeof savedAlert>;

export type RestoreResult =
  | { readonly ok: true; readonly sensors: number; readonly alerts: number }
  | { readonly ok: false; readonly error: string };

export function parseSnapshot(input: unknown): { ok: true; snapshot: AlertSnapshot } | { ok: false; error: string } {
  const r = alertSnapshotSchema.safeParse(input);
  if (r.success) return { ok: true, snapshot: r.data };
  return { ok: false, error: r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
}

/**
 * Validates either form: a binary snapshot (with the firing events it carries) or a version 1 JSON value (no
 * firing events: the service keeps them next to it). Never throws.
 */
export function readSnapshot(input: unknown): { ok: true; snapshot: AlertSnapshot; firing: AlertEvent[] | undefined } | { ok: false; error: string } {
  if (input instanceof Uint8Array) return decodeAlertSnapshot(input);
  const parsed = parseSnapshot(input);
  return parsed.ok ? { ok: true, snapshot: parsed.snapshot, firing: undefined } : parsed;
}

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
  return { version: 1, savedAt, sensors };
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

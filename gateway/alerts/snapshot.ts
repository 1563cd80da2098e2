import { z } from 'zod';

/**
 * The engine's alert state as JSON, written by the composition root at graceful shutdown and read back at
 * start, so a firing alert does not fire again (and a pending one keeps its start) across a restart.
 * Alerts are keyed by rule name + match + kind: a snapshot entry whose rule changed meanwhile is dropped.
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

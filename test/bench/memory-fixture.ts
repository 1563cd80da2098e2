/**
 * The state a gateway holds after `seconds` of the load generator's traffic (loadgen.ts: devices `dev-NNNNNN`,
 * sensors a, b, c at 1 Hz of event time, the same values byte for byte), built in this process by the gateway's
 * own Pipeline and AlertEngine and saved as the gateway's checkpoint (SqliteStateStore, a full incremental
 * checkpoint as the Checkpointer writes it) into `<dataDir>/state.db`. A gateway started on that folder restores
 * it as after a graceful stop, and the load generator goes on from `nextTs`: the memory section's way to start
 * with the 15m horizons full without sending 45M messages over MQTT first (memory.ts).
 */
import { mkdirSync } from 'node:fs';
import { AlertEngine } from '../../gateway/alerts/engine.js';
import type { AlertEvent } from '../../gateway/alerts/types.js';
import { parseRules } from '../../gateway/alerts/rules-parse.js';
import { createLogger } from '../../gateway/log.js';
import { Pipeline } from '../../gateway/pipeline/pipeline.js';
import type { DeviceMessage, Reading } from '../../gateway/pipeline/types.js';
import { encodeHostSnapshot } from '../../gateway/sparkplug/host-snapshot.js';
import { SqliteStateStore } from '../../gateway/state/sqlite-state.js';

export interface FixtureOptions {
  readonly dataDir: string;
  readonly devices: number;
  /** Messages per device (= seconds of event time at 1 Hz). */
  readonly seconds: number;
  /** Event time of each device's first message (the load generator's t0). */
  readonly t0: number;
  /** The rules file's YAML (the gateway under test gets the same). */
  readonly rules: string;
  /** The gateway's pipeline settings (its config's defaults in the memory section). */
  readonly settings: { intervalMs: number; allowedLatenessMs: number; correctionHorizonMs: number; dedupHorizonMs: number };
}

/** The values loadgen.ts patches into its template for a device's k-th message: "a":2K.MM, "b":40.0, "c":10XY.0. */
export function loadgenValues(k: number): [number, number, number] {
  return [Number(`2${k % 10}.${String((k * 7) % 100).padStart(2, '0')}`), 40, Number(`10${String((k * 13) % 100).padStart(2, '0')}.0`)];
}

/** Builds and saves the state; returns the event time the load generator continues from, and how long it took. */
export function buildFixture(o: FixtureOptions): { nextT0: number; seconds: number; bytes: number } {
  const started = performance.now();
  const parsed = parseRules(o.rules) as { ok: boolean; rules?: unknown[] };
  if (!parsed.ok) throw new Error('bench rules do not parse');
  const engine = new AlertEngine((parsed.rules ?? []) as ConstructorParameters<typeof AlertEngine>[0]);
  // The firing events the alert service keeps and saves with the engine's state (alerts/service.ts).
  const firing = new Map<string, AlertEvent>();
  const onReading = (r: Reading) => {
    for (const e of engine.onReading(r)) {
      const key = `${e.rule}\u0000${e.device}\u0000${e.sensor}`;
      if (e.state === 'firing') firing.set(key, e);
      else firing.delete(key);
    }
  };
  const p = new Pipeline(o.settings, { window: () => {}, reading: onReading });
  const names = Array.from({ length: o.devices }, (_, i) => `dev-${String(i).padStart(6, '0')}`);
  const arrival = Date.now();
  for (let k = 0; k < o.seconds; k++) {
    const [a, b, c] = loadgenValues(k);
    for (let d = 0; d < o.devices; d++) {
      const msg: DeviceMessage = {
        device: names[d]!,
        ts: o.t0 + k * 1000,
        tsFromDevice: true,
        seq: 1_000_000_000 + k,
        readings: [
          { sensor: 'a', value: a },
          { sensor: 'b', value: b },
          { sensor: 'c', value: c },
        ],
      };
      p.ingest(msg, arrival);
    }
  }
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const store = new SqliteStateStore({ dir: o.dataDir, sync: 'normal', log: createLogger('silent') });
  try {
    const pd = p.beginDelta();
    const ad = engine.beginDelta((rule, device, sensor) => firing.get(`${rule}\u0000${device}\u0000${sensor}`));
    while (!(pd.step(1024) && ad.step(1024)));
    const pipelineRows = pd.finish();
    const alertRows = ad.finish();
    const bytes = (pipelineRows.index[3 * pipelineRows.rows - 1] ?? 0) + (alertRows.index[3 * alertRows.rows - 1] ?? 0);
    store.saveDelta({
      pipelineHead: p.deltaHead(),
      pipelineRows,
      pipelineFull: pd.full,
      alertRows,
      alertsFull: ad.full,
      sparkplug: encodeHostSnapshot([]),
      savedAt: Date.now(),
      logPosition: 0,
    });
    return { nextT0: o.t0 + o.seconds * 1000, seconds: (performance.now() - started) / 1000, bytes };
  } finally {
    store.close();
  }
}

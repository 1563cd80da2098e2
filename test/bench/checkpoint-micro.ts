/**
 * Checkpoint cost, split into its parts: `node --expose-gc --import tsx test/bench/checkpoint-micro.ts [repeats=5]`.
 * Incremental checkpoints (what the gateway takes): the event-loop pauses of one, as the Checkpointer takes it
 * (begin; slices of steps of at most 1 ms; finish + hand-over to the writer thread) and the writer thread's
 * commit (not a pause), with ~1 % of the devices changed since the last one and with all of them changed.
 * Whole snapshots (what the gateway took before, and still the format of Pipeline.snapshot()):
 * Builds the pipeline + alert state of the throughput bench (3,000 sensors at 10 Hz, ~600 dedup keys each) and
 * of the memory bench's many-sensor end (100,000 sensors, a few keys each), then times pipeline.snapshot()
 * (a Buffer), the alert snapshot (a Buffer, as the service takes it, with its firing events) and
 * SqliteStateStore.save() (sync=normal, WAL, two blobs bound as they are). Medians of `repeats`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertEngine } from '../../gateway/alerts/engine.js';
import type { AlertEvent } from '../../gateway/alerts/types.js';
import { parseRules } from '../../gateway/alerts/rules-parse.js';
import { createLogger } from '../../gateway/log.js';
import { Pipeline } from '../../gateway/pipeline/pipeline.js';
import type { DeviceMessage } from '../../gateway/pipeline/types.js';
import { encodeHostSnapshot } from '../../gateway/sparkplug/host-snapshot.js';
import { SqliteStateStore } from '../../gateway/state/sqlite-state.js';
import { incremental } from './checkpoint-incremental.js';
import { BENCH_RULES } from './rules.js';

const repeats = Number(process.argv[2] ?? 5);
const SETTINGS = { intervalMs: 10_000, allowedLatenessMs: 5_000, correctionHorizonMs: 900_000, dedupHorizonMs: 900_000 };
const T0 = 1_700_000_000_000;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function build(devices: number, messages: number, stepMs: number) {
  const parsed = parseRules(BENCH_RULES) as { rules?: unknown[] };
  const engine = new AlertEngine((parsed.rules ?? []) as ConstructorParameters<typeof AlertEngine>[0]);
  // The firing events the service keeps (service.ts) and saves with the engine state: b-range fires on every b sensor.
  const firing = new Map<string, AlertEvent>();
  const track = (events: readonly AlertEvent[]) => {
    for (const e of events) {
      const key = `${e.rule}\u0000${e.device}\u0000${e.sensor}`;
      if (e.state === 'firing') firing.set(key, e);
      else firing.delete(key);
    }
  };
  const p = new Pipeline(SETTINGS, { window: () => {}, reading: (r) => track(engine.onReading(r)) });
  const names = Array.from({ length: devices }, (_, i) => `dev-${String(i).padStart(6, '0')}`);
  for (let m = 0; m < messages; m++) {
    for (let d = 0; d < devices; d++) {
      const ts = T0 + m * stepMs;
      p.ingest(message(names[d]!, m, stepMs, d), ts);
    }
  }
  return { p, engine, firing, names };
}

function message(device: string, m: number, stepMs: number, d: number): DeviceMessage {
  return {
    device,
    ts: T0 + m * stepMs,
    tsFromDevice: true,
    seq: undefined,
    readings: [
      { sensor: 'a', value: 20 + ((m * 7 + d) % 100) / 100 },
      { sensor: 'b', value: 1000 + (m % 10) / 10 },
      { sensor: 'c', value: 1013 + ((d + m) % 10) / 10 },
    ],
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function measure(label: string, devices: number, messages: number, stepMs: number): Promise<void> {
  const { p, engine, firing, names } = build(devices, messages, stepMs);
  const dir = mkdtempSync(join(tmpdir(), 'bench-cp-'));
  const store = new SqliteStateStore({ dir, sync: 'normal', log: createLogger('silent') });
  const t = { snapshot: [] as number[], alerts: [] as number[], save: [] as number[] };
  let pipelineBytes = 0;
  let alertBytes = 0;
  /** No Sparkplug edge nodes in this fleet: the part is its empty form. */
  const sparkplug = encodeHostSnapshot([]);
  let alertHint = 0;
  for (let i = 0; i < repeats; i++) {
    gc();
    let t0 = process.hrtime.bigint();
    const pipeline = p.snapshot();
    t.snapshot.push(ms(t0));
    t0 = process.hrtime.bigint();
    const alerts = engine.encodeSnapshot(firing, alertHint);
    t.alerts.push(ms(t0));
    alertHint = alertBytes = alerts.length;
    pipelineBytes = pipeline.length;
    gc();
    t0 = process.hrtime.bigint();
    store.save({ pipeline, alerts, sparkplug, savedAt: Date.now(), logPosition: 0 });
    t.save.push(ms(t0));
  }
  store.close();
  rmSync(dir, { recursive: true, force: true });
  const restore = (snap: Uint8Array) => new Pipeline(SETTINGS, { window: () => {} }, snap).stats().sensors;
  const inc = await incremental({
    p,
    engine,
    firing,
    repeats,
    devices,
    restore,
    touch: (d, m) => p.ingest(message(names[d]!, messages + m, stepMs, d), T0 + (messages + m) * stepMs),
  });
  const st = p.stats() as unknown as Record<string, number>;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `${label}: ${JSON.stringify(st)}, ${firing.size} alerts firing\n  snapshot ${median(t.snapshot).toFixed(0)} ms (${mib(pipelineBytes)} binary), alert snapshot ${median(t.alerts).toFixed(0)} ms (${mib(alertBytes)} binary), ` +
      `checkpoint ${mib(pipelineBytes + alertBytes)}, store.save (SQLite write) ${median(t.save).toFixed(0)} ms; ` +
      `whole checkpoint ~${(median(t.snapshot) + median(t.alerts) + median(t.save)).toFixed(0)} ms\n${inc}`,
  );
}

// CKPT_ONLY=throughput|100k|15m runs one of them.
const only = process.env.CKPT_ONLY;
if (only === undefined || only === 'throughput') await measure('3,000 sensors x ~600 dedup keys (throughput bench)', 1000, 600, 100);
if (only === undefined || only === '100k') await measure('100,000 sensors x 5 dedup keys', 33_334, 5, 1000);
// The shipped 15m horizons filled: 90 retained windows and a run of dedup keys per sensor (a reading every 5 s,
// so that the build takes seconds; each checkpoint of the incremental half is 5 s later: a window closes every other one).
if (only === undefined || only === '15m') await measure('100,000 sensors, 15m horizons full (90 retained windows each)', 33_334, 185, 5000);

/**
 * Memory per sensor of each in-memory part, in one process: `node --expose-gc --import tsx test/bench/memory-parts.ts [sensors] [horizonS]`.
 * Feeds every sensor at 1 Hz of event time until the horizons are full, then measures what stays after full GCs
 * (V8 heap + ArrayBuffers: retained windows live in Buffers outside the heap) after each part is built, the
 * pipeline's split (retained windows, dedup keys, the rest) by dropping them at the end, and what one checkpoint holds at once: the pipeline snapshot (version 3: a Buffer
 * outside the heap), the alert snapshot (version 2: a Buffer outside the heap) and the checkpoint body's JSON text. Explains the scale
 * scenario's RSS (BENCHMARKS.md).
 */
import { LiveView, SPARK_WINDOWS } from '../../gateway/admin/live/live-view.js';
import { AlertEngine } from '../../gateway/alerts/engine.js';
import { parseRules } from '../../gateway/alerts/rules-parse.js';
import { Pipeline } from '../../gateway/pipeline/pipeline.js';
import type { DeviceMessage } from '../../gateway/pipeline/types.js';
import { BENCH_RULES } from './rules.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const heap = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const sensors = Number(process.argv[2] ?? 100_000);
const horizonS = Number(process.argv[3] ?? 60);
/** `decimal`: values with two decimals that vary per reading (as thermometers send them) instead of small integers. */
const decimal = process.argv[4] === 'decimal';
const devices = Math.ceil(sensors / 3);
const T0 = 1_700_000_000_000;
const MiB = 2 ** 20;
const per = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB, ${Math.round(bytes / sensors)} B/sensor`;

const parsed = parseRules(BENCH_RULES) as { ok: boolean; rules?: unknown[] };
const engine = new AlertEngine((parsed.rules ?? []) as ConstructorParameters<typeof AlertEngine>[0]);
const live = new LiveView(T0);
const base = heap();
const p = new Pipeline(
  { intervalMs: 10_000, allowedLatenessMs: 5_000, correctionHorizonMs: horizonS * 1000, dedupHorizonMs: horizonS * 1000 },
  { window: () => {}, reading: (r) => engine.onReading(r) },
);
const names = Array.from({ length: devices }, (_, i) => `dev-${String(i).padStart(6, '0')}`);
for (let s = 0; s < horizonS + 20; s++) {
  for (let d = 0; d < devices; d++) {
    const msg: DeviceMessage = {
      device: names[d]!,
      ts: T0 + s * 1000,
      tsFromDevice: true,
      seq: undefined,
      readings: decimal
        ? [
            { sensor: 'a', value: 20 + ((s * 37 + d) % 1000) / 100 },
            { sensor: 'b', value: 55 + ((s * 13 + d) % 500) / 10 },
            { sensor: 'c', value: 1000 + ((s * 7 + d) % 200) / 10 },
          ]
        : [
            { sensor: 'a', value: s },
            { sensor: 'b', value: 1 },
            { sensor: 'c', value: 2 },
          ],
    };
    p.ingest(msg, T0 + s * 1000);
  }
}
const afterPipelineAndAlerts = heap();
const rssFilled = process.memoryUsage().rss;
// The live view as the gateway feeds it: readings and SPARK_WINDOWS windows per sensor.
for (let d = 0; d < devices; d++) {
  for (const sensor of ['a', 'b', 'c']) {
    live.onReading({ device: names[d]!, sensor, ts: T0, value: 1 });
    for (let w = 0; w < SPARK_WINDOWS; w++)
      live.onWindow({ device: names[d]!, sensor, start: T0 + w * 10_000, mean: 1, min: 1, max: 1, first: 1, last: 1, count: 1, revision: 0 });
  }
}
live.drain();
const afterLive = heap();
// The alert engine alone: a second one fed one reading per sensor (its state per sensor does not grow with time).
const engine2 = new AlertEngine(engine.rules());
for (let d = 0; d < devices; d++) for (const sensor of ['a', 'b', 'c']) engine2.onReading({ device: names[d]!, sensor, ts: T0, value: 1 });
const afterEngine2 = heap();
// One checkpoint as the checkpointer takes it: pipeline snapshot, alert snapshot, then the store's row.
/** Takes one snapshot part: its bytes, what it allocated on the heap without a GC in between (a lower bound, a
 * scavenge may run), what it grew off the heap, and what stays retained on the heap after a full GC. */
function part(take: () => Buffer) {
  const before = heap();
  const offHeap0 = process.memoryUsage().arrayBuffers;
  const raw0 = process.memoryUsage().heapUsed;
  const bytes = take();
  const allocated = process.memoryUsage().heapUsed - raw0;
  return { bytes, allocated, offHeap: process.memoryUsage().arrayBuffers - offHeap0, retained: heap() - before };
}
const beforeCheckpoint = heap();
const pipelinePart: { bytes: Buffer | null; allocated: number; offHeap: number; retained: number } = part(() => p.snapshot());
const alertPart = part(() => engine.encodeSnapshot());
const pipelineSnap = pipelinePart.bytes!;
const snapAlerts = alertPart.bytes;
const afterRow = heap();
console.log(`${sensors} sensors, horizons ${horizonS}s, ${decimal ? 'decimal' : 'integer'} values, stats ${JSON.stringify(p.stats())}`);
console.log(`pipeline + alert engine: ${per(afterPipelineAndAlerts - base)}; process RSS with the horizons filled ${(rssFilled / MiB).toFixed(0)} MiB`);
console.log(`  of which the alert engine (a second one, measured alone): ${per(afterEngine2 - afterLive)}`);
console.log(`live view: ${per(afterLive - afterPipelineAndAlerts)}`);
// Keep every part reachable to the end: V8's register liveness lets the GC collect a local after its last use,
// which made an earlier version of this script report ~0 for the live view.
console.log(
  `kept: ${live.size} live sensors, ${engine.rules().length} rules, ${p.stats().sensors} pipeline sensors, ${engine2.rules().length}, ${typeof snapAlerts}`,
);
console.log(
  `checkpoint: pipeline snapshot ${per(pipelineSnap.length)} off the heap (arrayBuffers +${(pipelinePart.offHeap / MiB).toFixed(0)} MiB), ` +
    `${per(pipelinePart.retained)} retained on the heap, >= ${(pipelinePart.allocated / MiB).toFixed(1)} MiB allocated on the heap while taking it`,
);
console.log(
  `  alert snapshot ${per(snapAlerts.length)} off the heap (arrayBuffers +${(alertPart.offHeap / MiB).toFixed(0)} MiB), ${per(alertPart.retained)} retained on the heap, ` +
    `>= ${(alertPart.allocated / MiB).toFixed(1)} MiB allocated on the heap while taking it`,
);
console.log(`  transient heap of one checkpoint (all of it held at once): ${per(afterRow - beforeCheckpoint)}`);
// The pipeline's split: drop each part of every sensor's state (reaching into the pipeline: a bench, not an API)
// and measure what that gives back.
type Held = Record<string, unknown>;
const sensorsOf = () => {
  const out: Held[] = [];
  for (const d of (p as unknown as { devices: Map<string, { sensors: Map<string, Held> }> }).devices.values()) for (const s of d.sensors.values()) out.push(s);
  return out;
};
const all = sensorsOf();
pipelinePart.bytes = null; // the snapshot, out of the split
const beforeDrop = heap();
const noBytes = Buffer.alloc(0);
const noNumbers: number[] = [];
for (const s of all) s.sealed = Buffer.isBuffer(s.sealed) ? noBytes : noNumbers;
const afterRetained = heap();
for (const s of all) {
  s.seen = noNumbers;
  if ('runs' in s) s.runs = noNumbers;
}
const afterKeys = heap();
const retainedPart = beforeDrop - afterRetained;
const keysPart = afterRetained - afterKeys;
const enginePart = afterEngine2 - afterLive;
console.log(
  `pipeline split: retained windows ${per(retainedPart)}, dedup keys ${per(keysPart)}, ` +
    `the rest (sensor and device objects, maps, open windows) ${per(afterPipelineAndAlerts - base - enginePart - retainedPart - keysPart)}`,
);
console.log(
  `kept: ${all.length} sensors; process RSS at the end ${(process.memoryUsage().rss / MiB).toFixed(0)} MiB (peak ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB)`,
);

/**
 * Micro-benchmark of the pipeline alone (no decode, no broker): `npx tsx test/bench/pipeline-micro.ts [sensors] [horizonS]`.
 * Devices with 10 sensors each send device-stamped messages once a second of event time, a little out of order,
 * with 1% repeats; the gateway ticks every 250ms. Prints readings/s and the state size. Not a test: timings on a
 * shared machine are noisy, so nothing here asserts them.
 */
import { Pipeline } from '../../gateway/pipeline/pipeline.js';
import type { DeviceMessage, SensorValue } from '../../gateway/pipeline/types.js';

const sensorsWanted = Number(process.argv[2] ?? 10_000);
const horizonMs = Number(process.argv[3] ?? 60) * 1000;
const SENSORS_PER_DEVICE = 10;
const devices = Math.max(1, Math.round(sensorsWanted / SENSORS_PER_DEVICE));
const SECONDS = Math.max(20, Math.round(3_000_000 / (devices * SENSORS_PER_DEVICE)));
const T0 = 1_700_000_000_000;

// Pre-build the messages so the timing covers the pipeline only.
const names = Array.from({ length: SENSORS_PER_DEVICE }, (_, i) => `s${i}`);
const ids = Array.from({ length: devices }, (_, i) => `dev-${i}`);
let seed = 42;
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const msgs: DeviceMessage[] = [];
const arrivals: number[] = [];
for (let s = 0; s < SECONDS; s++) {
  for (let d = 0; d < devices; d++) {
    const readings: SensorValue[] = names.map((sensor) => ({ sensor, value: Math.round(rnd() * 10_000) / 100 }));
    const jitter = rnd() < 0.05 ? -Math.floor(rnd() * 3000) : 0; // 5% arrive up to 3s late
    const msg: DeviceMessage = { device: ids[d]!, ts: T0 + s * 1000 + jitter + (d % 1000), tsFromDevice: true, seq: undefined, readings };
    msgs.push(msg);
    arrivals.push(T0 + s * 1000 + 200);
    if (rnd() < 0.01) {
      msgs.push(msg);
      arrivals.push(T0 + s * 1000 + 300);
    }
  }
}
const total = msgs.reduce((n, m) => n + m.readings.length, 0);

function runOnce(): { seconds: number; cpu: number; windows: number; p: Pipeline } {
  let windows = 0;
  const p = new Pipeline(
    { intervalMs: 10_000, allowedLatenessMs: 5_000, correctionHorizonMs: horizonMs, dedupHorizonMs: horizonMs },
    { window: () => void windows++ },
  );
  let nextTick = T0 + 250;
  const t = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < msgs.length; i++) {
    const at = arrivals[i]!;
    while (at >= nextTick) {
      p.tick(nextTick);
      nextTick += 250;
    }
    p.ingest(msgs[i]!, at);
  }
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const c = process.cpuUsage(cpu0);
  return { seconds, cpu: (c.user + c.system) / 1e6, windows, p };
}

const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => (gc?.(), process.memoryUsage().heapUsed);

console.log(`${devices * SENSORS_PER_DEVICE} sensors, ${SECONDS}s of event time, ${total} readings (${msgs.length} messages)`);
let last: ReturnType<typeof runOnce> | undefined;
for (let round = 1; round <= 3; round++) {
  // eslint-disable-next-line no-useless-assignment -- not read, but it lets the previous round's state go before measuring
  last = undefined;
  const before = heap();
  last = runOnce();
  const { seconds, cpu, windows, p } = last;
  // With `node --expose-gc --import tsx ...`, the heap delta of the first round is the pipeline's retained
  // state (later rounds' deltas are blurred by the previous round's garbage still referenced from the stack).
  const state =
    gc === undefined ? 'state size: run with node --expose-gc --import tsx' : round === 1 ? `state ${((heap() - before) / 2 ** 20).toFixed(0)} MiB` : '';
  console.log(
    `round ${round}: ${Math.round(total / seconds).toLocaleString('en')} readings/s, ${((cpu * 1e9) / total).toFixed(0)} ns CPU per reading, ${windows} windows emitted, ` +
      `stats ${JSON.stringify(p.stats())}, ${state}`,
  );
}

/**
 * Scenario 3: resident memory against the number of distinct sensors. Each sensor reports once per second of
 * event time (3 sensors per device message); event time runs faster than the wall clock so the run reaches the
 * steady state, where every horizon is full, in seconds. State must then stay flat: /health pipeline stats are
 * read at two thirds and at the end of the run and should agree.
 *
 * The horizons are BENCH_SCALE_HORIZON (default 30s, to keep the run short) for both dedup and corrections, the load BENCH_SCALE_RATE
 * msg/s (default 50,000): the horizon-bound part of the state is linear in the horizons (BENCHMARKS.md).
 */
import { startLoad } from './loadgen.js';
import { startGateway } from './servers.js';
import { BENCH_RULES_SCALE } from './rules.js';
import { sleep } from './throughput.js';
import type { InfluxServer } from '../support/influxd.js';
import type { ServerSample } from './servers.js';
import { checkpointTurns, type CheckpointTurns } from './checkpoint-turns.js';
import type { SmapsBreakdown } from './rss-breakdown.js';

export interface ScaleFigures {
  readonly sensors: number;
  readonly settings: string;
  readonly rssMiB: number;
  /** Greatest RSS seen over the run (sampled every ~250 ms): what the < 1 GiB target is about. */
  readonly peakRssMiB: number;
  /** Messages per second the gateway took over the run, and its CPU seconds per second (1 = one core). */
  readonly msgPerSec: number;
  readonly cpu: number;
  readonly heapUsedMiB: number;
  readonly baselineMiB: number;
  readonly bytesPerSensor: number;
  readonly dedupKeysFirst: number;
  readonly dedupKeysLast: number;
  readonly retainedFirst: number;
  readonly retainedLast: number;
  /** gateway_checkpoint_pause_max_seconds at the end, ms: the longest event-loop turn of a periodic checkpoint. */
  readonly checkpointPauseMaxMs: number;
  /** Checkpoints saved over the run. */
  readonly checkpoints: number;
  /** Every event-loop turn of the periodic checkpoints by phase (gateway_checkpoint_turn_seconds), when the gateway has it. */
  readonly turns?: CheckpointTurns;
  /**
   * The gateway took every message the horizons need (1.5 horizons per device) before the time limit: only then
   * is the state the steady one the figure is about. A gateway that falls behind (a busy machine) ends early.
   */
  readonly complete: boolean;
  /**
   * Fill mode (the memory section): the horizons are filled at `fillRate` (0: as fast as the gateway takes them),
   * then the load runs `steadyS` seconds at the steady rate; the peak and the end figures above are of the steady
   * phase, with the horizons full; `fillPeakRssMiB` is the peak while filling.
   */
  readonly fill?: {
    readonly fillRate: number;
    readonly fillSeconds: number;
    readonly fillMsgPerSec: number;
    readonly fillPeakRssMiB: number;
    /** From spawning the gateway to its admin API answering (after MQTT listens): with a restore, the restart time. */
    readonly upSeconds: number;
    readonly steadyS: number;
    /** Dedup keys and retained windows per sensor against what full horizons hold (1 = full), at the start and end of the steady phase. */
    readonly keysFull: readonly [number, number];
    readonly retainedFull: readonly [number, number];
    readonly horizonsFull: boolean;
  };
  /** /proc/<pid>/smaps by kind at the end of the steady phase, under load (rss-breakdown.ts). */
  readonly smaps?: SmapsBreakdown;
  /** BENCH_MEMORY_MALLOC=1: RSS before and after malloc_trim(0) once the load stopped (malloc's free memory). */
  readonly trim?: { readonly rssBeforeMiB: number; readonly rssAfterMiB: number };
}

/** The shipped pipeline.dedupHorizon and pipeline.correctionHorizon (gateway/config/schema.ts), seconds. */
export const DEFAULT_HORIZON_S = 900;

export function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const MiB = 2 ** 20;

/** What a memory run reads of the state (/health at two points) and of the checkpoints (/metrics at the end). */
export function stateFigures(first: Record<string, number>, last: Record<string, number>, metricsText: string) {
  const turns = checkpointTurns(metricsText);
  return {
    dedupKeysFirst: first['dedupKeys'] ?? NaN,
    dedupKeysLast: last['dedupKeys'] ?? NaN,
    retainedFirst: first['retainedWindows'] ?? NaN,
    retainedLast: last['retainedWindows'] ?? NaN,
    checkpointPauseMaxMs: metricValue(metricsText, 'gateway_checkpoint_pause_max_seconds') * 1000,
    checkpoints: metricValue(metricsText, 'gateway_checkpoints_total', '{result="saved"}'),
    ...(turns !== undefined ? { turns } : {}),
  };
}

/** Samples a server and keeps the greatest RSS seen: the memory figures are about the peak. */
export function peakSampler(server: { sample(): Promise<ServerSample> }): { sample(): Promise<ServerSample>; readonly peak: number; reset(): void } {
  let peak = 0;
  return {
    async sample() {
      const s = await server.sample();
      peak = Math.max(peak, s.rssBytes);
      return s;
    },
    get peak() {
      return peak;
    },
    reset() {
      peak = 0;
    },
  };
}

/** True when the target was reached within the limit. */
export async function waitMessages(sample: () => Promise<{ messages: number }>, target: number, limitMs: number): Promise<boolean> {
  const until = Date.now() + limitMs;
  for (;;) {
    if ((await sample()).messages >= target) return true;
    if (Date.now() >= until) return false;
    await sleep(250);
  }
}

/** `horizon` 'default': the shipped horizons (no override), else both horizons set to it (e.g. '30s', '1m'). */
export async function runScale(influx: InfluxServer, counts: readonly number[], horizon = process.env.BENCH_SCALE_HORIZON ?? '30s'): Promise<ScaleFigures[]> {
  // A steady rate, not the maximum: memory at full speed measures socket buffers and garbage, not state.
  const rate = Number(process.env.BENCH_SCALE_RATE ?? 50_000);
  const horizonS = horizon === 'default' ? DEFAULT_HORIZON_S : horizon.endsWith('m') ? Number(horizon.slice(0, -1)) * 60 : Number(horizon.replace(/s$/, ''));
  const out: ScaleFigures[] = [];
  for (const sensors of counts) {
    const devices = Math.ceil(sensors / 3);
    const gw = await startGateway({
      influxUrl: influx.url,
      database: `scale${sensors}`,
      rules: BENCH_RULES_SCALE,
      ...(horizon === 'default' ? {} : { pipeline: { dedupHorizon: horizon, correctionHorizon: horizon } }),
    });
    try {
      const rss = peakSampler(gw);
      const sample = rss.sample;
      const start = await sample();
      const baseline = start.rssBytes;
      const t0 = performance.now();
      // Enough messages per device to fill both horizons, and a third more to show the state stays flat.
      const perDevice = Math.ceil(horizonS * 1.5) + 20;
      const load = await startLoad({ port: gw.mqttPort, connections: 50, devices, qos: 0, rate, t0: Date.now() - 86_400_000, stepMs: 1000 });
      let first: Record<string, number> = {};
      let complete = false;
      // Long enough for the default horizons' 45M messages at ~40k msg/s (a quiet machine), per stage.
      const limitMs = Math.max(300_000, ((devices * perDevice) / rate) * 1000 * 2);
      try {
        complete = await waitMessages(sample, Math.round(devices * perDevice * (2 / 3)), limitMs);
        first = (await gw.health()).pipeline as Record<string, number>;
        complete = (await waitMessages(sample, devices * perDevice, limitMs)) && complete;
      } finally {
        await load.stop();
      }
      await sleep(1000);
      const last = (await gw.health()).pipeline as Record<string, number>;
      const end = await sample();
      const text = await gw.metrics();
      const secs = (performance.now() - t0) / 1000;
      const endRss = end.rssBytes;
      const f: ScaleFigures = {
        sensors,
        settings: `1 Hz, horizons ${horizon === 'default' ? `${DEFAULT_HORIZON_S / 60}m (default)` : horizon}, ${rate} msg/s`,
        rssMiB: endRss / MiB,
        peakRssMiB: rss.peak / MiB,
        msgPerSec: (end.messages - start.messages) / secs,
        cpu: (end.cpuSeconds - start.cpuSeconds) / secs,
        heapUsedMiB: (end.heapUsedBytes ?? 0) / MiB,
        baselineMiB: baseline / MiB,
        bytesPerSensor: (endRss - baseline) / sensors,
        ...stateFigures(first, last, text),
        complete,
      };
      console.log(`  scale ${sensors} sensors: checkpoint phases: ${checkpointPhases(text)}`);
      console.log(
        `  scale ${sensors} sensors: peak ${f.peakRssMiB.toFixed(0)} MiB RSS, end ${f.rssMiB.toFixed(0)} MiB RSS (${f.msgPerSec.toFixed(0)} msg/s, CPU ${f.cpu.toFixed(2)}), heap ${f.heapUsedMiB.toFixed(0)} MiB (${f.bytesPerSensor.toFixed(0)} B/sensor), dedup keys ${f.dedupKeysFirst} -> ${f.dedupKeysLast}, retained windows ${f.retainedFirst} -> ${f.retainedLast}, checkpoint pause max ${f.checkpointPauseMaxMs.toFixed(1)} ms over ${f.checkpoints}${complete ? '' : ' (INCOMPLETE: the gateway fell behind, horizons not full)'}`,
      );
      out.push(f);
    } finally {
      await gw.stop();
    }
  }
  return out;
}

/** Checkpoints of each phase and how many passed 2.5 ms (gateway_checkpoint_seconds; write: the writer thread, not a pause). */
export function checkpointPhases(text: string): string {
  return ['capture', 'outbox', 'slice', 'save', 'write']
    .map((ph) => {
      const n = metricValue(text, 'gateway_checkpoint_seconds_count', `{phase="${ph}"}`);
      const bucket = text
        .split('\n')
        .find((l) => l.startsWith('gateway_checkpoint_seconds_bucket{') && l.includes('le="0.0025"') && l.includes(`phase="${ph}"`));
      const over = n - (bucket === undefined ? NaN : Number(bucket.slice(bucket.lastIndexOf(' ') + 1)));
      return `${ph} ${n} (${Number.isFinite(over) ? over : '?'} > 2.5 ms)`;
    })
    .join(', ');
}

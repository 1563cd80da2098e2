/**
 * The memory section: resident memory of the gateway process with the shipped horizons FULL (issue 23, target 3:
 * 100k sensors at 1 Hz, 15m horizons, < 1 GiB RSS), in a run that fits in a few minutes.
 *
 * The horizons are in event time (dedup keys are forgotten past the sensor's greatest ts - dedupHorizon, retained
 * windows past the watermark - correctionHorizon: gateway/pipeline/pipeline.ts), and each device's ts advances by
 * 1 s per message from the generator, so what fills them is messages per device (horizon + a minute), not wall
 * time: 32M messages at 100k sensors. Two ways (`fill`):
 *  - 'restore' (default): the bench process feeds exactly those messages to the gateway's own Pipeline and
 *    AlertEngine and saves the result as the gateway's checkpoint (memory-fixture.ts); the gateway restores it and
 *    the load generator goes on from the next second at the steady rate for `steadyS`. The peak RSS is over the
 *    gateway's whole life (restore included).
 *  - a rate (msg/s, 0 = as fast as taken): the messages are sent over MQTT, then the same connections switch to
 *    the steady rate; the fill phase's peak is recorded apart, and what it left behind (heap grown, malloc's free
 *    lists) counts in the steady phase's figure.
 * Either way the row says whether the horizons were full at the start and the end of the steady phase.
 *
 * At the end of the steady phase, under load: /proc/<pid>/smaps by kind (rss-breakdown.ts); after the load with
 * `malloc`: glibc's malloc_stats (on the gateway's stderr) and the RSS before/after malloc_trim(0).
 * `BENCH_GATEWAY_NODE_ARGS=--trace-gc` prints every isolate's heap at each GC (parse with rss-breakdown.ts).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLoad } from './loadgen.js';
import { buildFixture } from './memory-fixture.js';
import { startGateway } from './servers.js';
import { BENCH_RULES_SCALE } from './rules.js';
import { sleep } from './throughput.js';
import { DEFAULT_HORIZON_S, checkpointPhases, metricValue, peakSampler, stateFigures, waitMessages, type ScaleFigures } from './scale.js';
import { formatTurns } from './checkpoint-turns.js';
import { formatSmaps, mallocStats, smapsBreakdown } from './rss-breakdown.js';
import type { InfluxServer } from '../support/influxd.js';

const MiB = 2 ** 20;
/** pipeline.interval's default (gateway/config/schema.ts): a full correction horizon holds horizon / interval windows. */
const INTERVAL_S = 10;

export interface MemoryOptions {
  readonly sensors: number;
  /** 'restore': the filled state is built in this process and restored by the gateway (memory-fixture.ts); a number: sent over MQTT at that rate (0 = as fast as taken). */
  readonly fill: 'restore' | number;
  readonly steadyRate: number;
  readonly steadyS: number;
  readonly malloc: boolean;
  /** The gateway's durability.checkpointInterval (default: its own, 5s); e.g. 1h to see the state without a checkpoint's buffers. */
  readonly checkpointInterval?: string;
  /** The gateway's runtime.heapGrowthPercent (default: its own default). */
  readonly heapGrowthPercent?: number;
  /** Both horizons, seconds (default: the shipped 15m). */
  readonly horizonS?: number;
  /**
   * After the load (and malloc_stats): a heap snapshot of the gateway thread's isolate, copied into this folder.
   * Needs the gateway started with --heapsnapshot-signal=SIGUSR2 (BENCH_GATEWAY_NODE_ARGS) and the restore fill.
   */
  readonly heapSnapshotTo?: string;
}

/** Signals the gateway to write a heap snapshot into its working folder, waits until it is complete, and copies it. */
async function heapSnapshot(pid: number, dir: string, to: string): Promise<void> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(1000);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (file === undefined) continue;
    // Created empty, written once the snapshot is taken: done when it has bytes and they stop growing.
    const size = statSync(join(dir, file)).size;
    await sleep(5000);
    if (size === 0 || statSync(join(dir, file)).size !== size) continue;
    mkdirSync(to, { recursive: true });
    copyFileSync(join(dir, file), join(to, file));
    console.log(`  memory: heap snapshot ${join(to, file)} (${(size / MiB).toFixed(0)} MiB)`);
    return;
  }
  console.log('  memory: no heap snapshot within 10 minutes');
}

export async function runMemory(influx: InfluxServer, o: MemoryOptions): Promise<ScaleFigures[]> {
  const { sensors, steadyRate } = o;
  const devices = Math.ceil(sensors / 3);
  const horizonS = o.horizonS ?? DEFAULT_HORIZON_S;
  const shipped = horizonS === DEFAULT_HORIZON_S;
  const restore = o.fill === 'restore';
  const fillRate = restore ? 0 : (o.fill as number);
  // A day back, on a window boundary, so that every run builds the same windows.
  let t0Event = Math.floor((Date.now() - 86_400_000) / (INTERVAL_S * 1000)) * INTERVAL_S * 1000;
  let dir: string | undefined;
  let fixtureS = 0;
  if (restore) {
    dir = mkdtempSync(join(tmpdir(), 'bench-mem-'));
    const fx = buildFixture({
      dataDir: join(dir, 'data'),
      devices,
      seconds: horizonS + 60,
      t0: t0Event,
      rules: BENCH_RULES_SCALE,
      settings: { intervalMs: INTERVAL_S * 1000, allowedLatenessMs: 5_000, correctionHorizonMs: horizonS * 1000, dedupHorizonMs: horizonS * 1000 },
    });
    t0Event = fx.nextT0;
    fixtureS = fx.seconds;
    console.log(
      `  memory: state of ${sensors} sensors x ${horizonS + 60} s built and saved in ${fx.seconds.toFixed(0)} s (${(fx.bytes / MiB).toFixed(0)} MiB of checkpoint rows)`,
    );
  }
  const spawnedAt = performance.now();
  const gw = await startGateway({
    influxUrl: influx.url,
    database: `memory${sensors}`,
    rules: BENCH_RULES_SCALE,
    ...(dir ? { dir } : {}),
    ...(shipped ? {} : { pipeline: { dedupHorizon: `${horizonS}s`, correctionHorizon: `${horizonS}s` } }),
    ...(o.heapGrowthPercent !== undefined ? { runtime: { heapGrowthPercent: String(o.heapGrowthPercent) } } : {}),
    ...(o.checkpointInterval !== undefined ? { durability: { checkpointInterval: o.checkpointInterval } } : {}),
  });
  const upSeconds = (performance.now() - spawnedAt) / 1000;
  try {
    const rss = peakSampler(gw);
    const sample = rss.sample;
    const fullness = (h: Record<string, number>): [number, number] => [
      (h['dedupKeys'] ?? NaN) / sensors / (horizonS + 1),
      (h['retainedWindows'] ?? NaN) / sensors / (horizonS / INTERVAL_S),
    ];
    const start = await sample();
    const t0 = performance.now();
    // The horizons plus a minute: every key and window of the first minute has been evicted once.
    const fillTarget = devices * (horizonS + 60);
    const load = await startLoad({ port: gw.mqttPort, connections: 50, devices, qos: 0, rate: restore ? steadyRate : fillRate, t0: t0Event, stepMs: 1000 });
    let first: Record<string, number> = {};
    let last: Record<string, number> = {};
    let filled = false;
    let fillPeak = 0;
    let fillSeconds = NaN;
    let steadyFrom = start;
    let steadyT0 = t0;
    let smaps;
    try {
      let lastLog = 0;
      const logged = async () => {
        const s = await sample();
        if (performance.now() - lastLog >= 30_000) {
          lastLog = performance.now();
          console.log(
            `  memory: ${Math.round((lastLog - t0) / 1000)} s, ${(s.messages / 1e6).toFixed(1)}M messages, RSS ${(s.rssBytes / MiB).toFixed(0)} MiB, heap used ${((s.heapUsedBytes ?? 0) / MiB).toFixed(0)} MiB`,
          );
        }
        return s;
      };
      if (restore) filled = true;
      else {
        filled = await waitMessages(logged, fillTarget, Math.max(600_000, (fillTarget / Math.max(fillRate, steadyRate)) * 2000));
        await load.setRate(steadyRate);
      }
      fillSeconds = restore ? fixtureS : (performance.now() - t0) / 1000;
      first = (await gw.health()).pipeline as Record<string, number>;
      fillPeak = rss.peak;
      // Over MQTT the fill phase's peak is recorded apart; a restore is part of the steady phase's life.
      if (!restore) rss.reset();
      steadyFrom = await sample();
      steadyT0 = performance.now();
      while (performance.now() - steadyT0 < o.steadyS * 1000) {
        await logged();
        await sleep(250);
      }
      last = (await gw.health()).pipeline as Record<string, number>;
      if (gw.pid !== undefined) smaps = smapsBreakdown(gw.pid);
    } finally {
      await load.stop();
    }
    const end = await sample();
    const text = await gw.metrics();
    const secs = (performance.now() - steadyT0) / 1000;
    await sleep(1000);
    const trim = o.malloc && gw.pid !== undefined ? mallocStats(gw.pid, true) : undefined;
    if (o.heapSnapshotTo !== undefined && gw.pid !== undefined && dir !== undefined) await heapSnapshot(gw.pid, dir, o.heapSnapshotTo);
    const keysFull: [number, number] = [fullness(first)[0], fullness(last)[0]];
    const retainedFull: [number, number] = [fullness(first)[1], fullness(last)[1]];
    const horizonsFull = filled && Math.min(...keysFull) >= 0.99 && Math.min(...retainedFull) >= 0.97;
    const f: ScaleFigures = {
      sensors,
      settings: `1 Hz, horizons ${horizonS / 60}m${shipped ? ' (default)' : ''}, ${restore ? 'filled state restored' : `filled at ${fillRate === 0 ? 'full speed' : `${fillRate} msg/s`}`}, then ${o.steadyS} s at ${steadyRate} msg/s`,
      rssMiB: end.rssBytes / MiB,
      peakRssMiB: rss.peak / MiB,
      msgPerSec: (end.messages - steadyFrom.messages) / secs,
      cpu: (end.cpuSeconds - steadyFrom.cpuSeconds) / secs,
      heapUsedMiB: (end.heapUsedBytes ?? 0) / MiB,
      baselineMiB: start.rssBytes / MiB,
      bytesPerSensor: (end.rssBytes - start.rssBytes) / sensors,
      ...stateFigures(first, last, text),
      complete: horizonsFull,
      fill: {
        fillRate: restore ? NaN : fillRate,
        fillSeconds,
        fillMsgPerSec: (steadyFrom.messages - start.messages) / fillSeconds,
        fillPeakRssMiB: fillPeak / MiB,
        upSeconds,
        steadyS: o.steadyS,
        keysFull,
        retainedFull,
        horizonsFull,
      },
      ...(smaps ? { smaps } : {}),
      ...(trim ? { trim } : {}),
    };
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    const writeS = metricValue(text, 'gateway_checkpoint_seconds_sum', '{phase="write"}');
    const writes = metricValue(text, 'gateway_checkpoint_seconds_count', '{phase="write"}');
    console.log(
      `  memory ${sensors} sensors: checkpoint phases: ${checkpointPhases(text)}; writer thread ${((writeS / writes) * 1000).toFixed(0)} ms a write (mean of ${writes})`,
    );
    if (f.turns) console.log(`  memory ${sensors} sensors: checkpoint turns: ${formatTurns(f.turns)}`);
    console.log(
      `  memory ${sensors} sensors: ${restore ? `state built in ${fillSeconds.toFixed(0)} s and restored (up in ${upSeconds.toFixed(1)} s, peak ${f.fill!.fillPeakRssMiB.toFixed(0)} MiB RSS at the start)` : `filled in ${fillSeconds.toFixed(0)} s (${f.fill!.fillMsgPerSec.toFixed(0)} msg/s, peak ${f.fill!.fillPeakRssMiB.toFixed(0)} MiB RSS)`}; steady ${o.steadyS} s: peak ${f.peakRssMiB.toFixed(0)} MiB RSS, end ${f.rssMiB.toFixed(0)} MiB (${f.msgPerSec.toFixed(0)} msg/s, CPU ${f.cpu.toFixed(2)}), heap used ${f.heapUsedMiB.toFixed(0)} MiB; horizons ${horizonsFull ? 'FULL' : 'NOT full'}: dedup keys ${pct(keysFull[0])} -> ${pct(keysFull[1])}, retained windows ${pct(retainedFull[0])} -> ${pct(retainedFull[1])}; checkpoint pause max ${f.checkpointPauseMaxMs.toFixed(1)} ms over ${f.checkpoints}`,
    );
    console.log(
      `  memory ${sensors} sensors: in-process: heap total ${(metricValue(text, 'gateway_process_nodejs_heap_size_total_bytes') / MiB).toFixed(0)} MiB, external ${(metricValue(text, 'gateway_process_nodejs_external_memory_bytes') / MiB).toFixed(0)} MiB`,
    );
    console.log(
      `  memory ${sensors} sensors: readings accepted ${metricValue(text, 'gateway_readings_accepted_total')}, late ${metricValue(text, 'gateway_readings_late_total')}, duplicate ${metricValue(text, 'gateway_readings_duplicate_total')}; windows emitted ${metricValue(text, 'gateway_windows_emitted_total')}`,
    );
    if (smaps) console.log(`  memory ${sensors} sensors: smaps under load: ${formatSmaps(smaps)}`);
    if (trim)
      console.log(`  memory ${sensors} sensors: malloc_trim(0) after the load: RSS ${trim.rssBeforeMiB.toFixed(0)} -> ${trim.rssAfterMiB.toFixed(0)} MiB`);
    return [f];
  } finally {
    await gw.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

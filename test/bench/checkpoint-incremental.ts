/**
 * The incremental half of test/bench/checkpoint-micro.ts: one checkpoint taken as the gateway's Checkpointer takes
 * it (app.ts capture: pipeline.beginDelta + alert beginDelta; steps of 4 devices + 16 alert devices in slices of at
 * most 1 ms; finish; SqliteStateStore.saveDeltaAsync), each turn timed in wall time (run it under the bench
 * lock), then the writer thread's commit (wall time).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlertEngine } from '../../gateway/alerts/engine.js';
import type { AlertEvent } from '../../gateway/alerts/types.js';
import { createLogger } from '../../gateway/log.js';
import type { Pipeline } from '../../gateway/pipeline/pipeline.js';
import { encodeHostSnapshot } from '../../gateway/sparkplug/host-snapshot.js';
import { SqliteStateStore } from '../../gateway/state/sqlite-state.js';

/**
 * Lets the writer thread's WAL copy after the last commit and V8's concurrent sweeping after a gc() finish before
 * a checkpoint is timed: on 2 vCPUs either takes a core from the main thread, which then loses whole 4 ms
 * scheduler ticks inside its steps (BENCHMARKS.md, "The begin turn's scavenges").
 */
const settled = () => new Promise((resolve) => setTimeout(resolve, 500));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

interface Turns {
  begin: number;
  maxStep: number;
  meanStep: number;
  steps: number;
  end: number;
  commit: number;
  rows: number;
  bytes: number;
}

/**
 * Wall time since `from`, ms: what a publish waiting behind the turn waits. (Node 20 has no per-thread CPU clock:
 * process.cpuUsage() counts the GC helpers sweeping after a gc() and the writer thread's WAL copy of the previous
 * checkpoint, /proc/thread-self/schedstat is only updated at scheduler ticks.) Run it under the bench lock.
 */
const cpuUsage = (): number => performance.now();
const cpu = (from: number) => performance.now() - from;

function checkpoint(p: Pipeline, engine: AlertEngine, firing: Map<string, AlertEvent>, store: SqliteStateStore): Turns {
  const firingOf = (rule: string, device: string, sensor: string) => firing.get(`${rule}\u0000${device}\u0000${sensor}`);
  let c0 = cpuUsage();
  const pd = p.beginDelta();
  const ad = engine.beginDelta(firingOf);
  const sparkplug = encodeHostSnapshot([]);
  const begin = cpu(c0);
  // The Checkpointer runs steps while a slice is under 1 ms: a slice holds the loop <= 1 ms + its last step.
  const each: number[] = [];
  for (let done = false; !done;) {
    c0 = cpuUsage();
    done = pd.step(4) && ad.step(16);
    each.push(cpu(c0));
  }
  each.sort((a, b) => a - b);
  const steps = each.length;
  // The 99th percentile: the process's CPU time also counts its other threads (GC helpers, the writer's WAL copy).
  const maxStep = each[Math.floor(steps * 0.99)]!;
  const meanStep = each.reduce((a, b) => a + b, 0) / steps;
  c0 = cpuUsage();
  const pipelineRows = pd.finish();
  const alertRows = ad.finish();
  const rows = pipelineRows.rows + alertRows.rows;
  const bytes = (pipelineRows.index[3 * pipelineRows.rows - 1] ?? 0) + (alertRows.index[3 * alertRows.rows - 1] ?? 0);
  let committed = 0;
  store.saveDeltaAsync(
    { pipelineHead: p.deltaHead(), pipelineRows, pipelineFull: pd.full, alertRows, alertsFull: ad.full, sparkplug, savedAt: Date.now(), logPosition: 0 },
    (err) => {
      if (err) throw err;
      committed = performance.now();
    },
  );
  const end = cpu(c0);
  const posted = performance.now();
  store.settle();
  return { begin, maxStep, meanStep, steps, end, commit: committed - posted, rows, bytes };
}

/** `touch(d, m)`: device d sends its m-th message after the build (a change since the last checkpoint). */
export async function incremental(o: {
  p: Pipeline;
  engine: AlertEngine;
  firing: Map<string, AlertEvent>;
  repeats: number;
  devices: number;
  touch: (device: number, m: number) => void;
  /** A pipeline from a checkpoint's part; its sensor count. */
  restore: (snapshot: Uint8Array) => number;
}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cp-inc-'));
  const store = new SqliteStateStore({ dir, sync: 'normal', log: createLogger('silent') });
  const lines: string[] = [];
  const fmt = (label: string, ts: Turns[]) => {
    const f = (k: keyof Turns) => median(ts.map((t) => t[k]));
    lines.push(
      `  incremental, ${label}: ${f('rows').toFixed(0)} rows (${(f('bytes') / 2 ** 20).toFixed(1)} MiB; mean ${(ts.reduce((n, t) => n + t.bytes, 0) / ts.length / 2 ** 20).toFixed(1)}, ` +
        `max ${(Math.max(...ts.map((t) => t.bytes)) / 2 ** 20).toFixed(1)} MiB over ${ts.length}); wall ms of the event-loop turns: begin ${f('begin').toFixed(2)}, ` +
        `${f('steps').toFixed(0)} steps of mean ${f('meanStep').toFixed(3)}, p99 ${f('maxStep').toFixed(2)} (a slice: 1 ms + one step), finish + hand-over ${f('end').toFixed(2)}; ` +
        `longest turn <= ${Math.max(...ts.map((t) => Math.max(t.begin, 1 + t.maxStep, t.end))).toFixed(2)} ms; writer thread commit ${f('commit').toFixed(0)} ms wall (not a pause)`,
    );
  };
  try {
    gc();
    await settled();
    fmt('first (full: every device)', [checkpoint(o.p, o.engine, o.firing, store)]);
    let m = 0;
    for (const [label, share] of [
      ['~1 % of the devices changed', 0.01],
      ['every device changed', 1],
    ] as const) {
      const runs: Turns[] = [];
      for (let r = 0; r < o.repeats; r++) {
        m++;
        const n = Math.max(1, Math.round(o.devices * share));
        const stride = Math.max(1, Math.floor(o.devices / n));
        for (let k = 0; k < n; k++) o.touch((k * stride + r) % o.devices, m);
        gc();
        await settled();
        runs.push(checkpoint(o.p, o.engine, o.firing, store));
      }
      fmt(label, runs);
    }
    // Start-up reads it back: every row of a part as one blob (persist/rows.ts), restored as a whole snapshot is.
    gc();
    let t0 = performance.now();
    const cp = store.load()!;
    const loadMs = performance.now() - t0;
    t0 = performance.now();
    const restored = o.restore(cp.pipeline);
    const rowsMs = performance.now() - t0;
    const whole = o.p.snapshot();
    gc();
    t0 = performance.now();
    o.restore(whole);
    const wholeMs = performance.now() - t0;
    lines.push(
      `  restore at start: load() of the rows ${loadMs.toFixed(0)} ms, pipeline from rows ${rowsMs.toFixed(0)} ms (${restored} sensors); from a whole snapshot ${wholeMs.toFixed(0)} ms`,
    );
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return lines.join('\n');
}

/**
 * The bench's results and its table: one row per figure, and for every target of BENCHMARKS.md ("Where we
 * stand") its bound and whether this run met it. A target whose scenario did not run says so.
 */
import type { CapacityFigures } from './capacity.js';
import type { LatencyFigures } from './latency.js';
import type { OutboxFigures } from './outbox-drain.js';
import { formatTurns } from './checkpoint-turns.js';
import type { ScaleFigures } from './scale.js';
import type { StartupFigures } from './startup.js';
import type { RunFigures } from './throughput.js';

export interface Summary {
  server: string;
  qos: 0 | 1;
  runs: number[];
  msgPerSec: number;
  cpuSecPerMillionReadings: number;
  /** QoS 1 at full speed: medians of the runs' publish -> PUBACK percentiles. */
  ackP50Ms?: number;
  ackP99Ms?: number;
}

/** QoS 1 at a fixed moderate rate (below every server's maximum): publish -> PUBACK without queueing. */
export interface PubackFigures {
  server: string;
  rate: number;
  msgPerSec: number;
  /** PUBACKs timed over the window (0: none arrived, and `note` says why). */
  acks: number;
  p50Ms: number;
  p99Ms: number;
  note?: string;
}

export const THROUGHPUT_KEYS = [
  'ratioQos0',
  'ratioQos0OneThread',
  'ratioQos1',
  'ratioQos1Full',
  'cpuRatioQos0',
  'cpuRatioQos0OneThread',
  'cpuRatioQos1',
  'cpuRatioQos1Full',
] as const;
export type Ratios = { [k in (typeof THROUGHPUT_KEYS)[number]]?: number };

export interface BenchResults {
  machine: { cpus: number; cpuModel: string; memGiB: number; node: string; loadAverage: number[] };
  throughput?: { runs: RunFigures[]; summary: Summary[] } & Ratios;
  puback?: PubackFigures[];
  capacity?: CapacityFigures[];
  latency?: LatencyFigures[];
  scale?: ScaleFigures[];
  memoryDefault?: ScaleFigures[];
  /** The checkpoint's turns at 100k sensors under a load the gateway carries (BENCH_ONLY=pause). */
  pause?: ScaleFigures[];
  startup?: StartupFigures[];
  outbox?: OutboxFigures;
  sparkplug?: SparkplugFigures;
  errors: string[];
}

/** Sparkplug B DDATA, QoS 0: bare aedes and the gateway as a host application, medians of the runs. */
export interface SparkplugFigures {
  metricsPerPayload: number;
  runs: RunFigures[];
  bare?: { runs: number[]; msgPerSec: number; cpu: number };
  gateway?: { runs: number[]; msgPerSec: number; cpu: number };
  ratio?: number;
}

export const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-';

/** `incomplete`: the scenario ran but did not reach the state the target is about (no verdict). */
const met = (ok: boolean | 'incomplete' | undefined) => (ok === undefined ? 'not run' : ok === 'incomplete' ? 'incomplete' : ok ? 'met' : 'NOT met');

export function printTable(r: BenchResults): void {
  const rows: string[][] = [['what', 'figure', 'target', 'met']];
  const row = (what: string, figure: string, target = '', ok?: boolean | 'incomplete') => rows.push([what, figure, target, target === '' ? '' : met(ok)]);
  const t = r.throughput;
  for (const s of t?.summary ?? []) {
    const ack = s.ackP50Ms === undefined ? '' : `; PUBACK at full speed (100 in flight/connection) p50 ${fmt(s.ackP50Ms, 1)} ms, p99 ${fmt(s.ackP99Ms!, 1)} ms`;
    row(
      `ingest ${s.server} QoS ${s.qos} (median of ${s.runs.join(', ')})`,
      `${fmt(s.msgPerSec)} msg/s, ${fmt(s.cpuSecPerMillionReadings, 2)} CPU s/1M readings${ack}`,
    );
  }
  const ratioRows: [keyof Ratios, string, number | undefined][] = [
    ['ratioQos0', 'ratio gateway / bare aedes, QoS 0, large writes', 0.8],
    ['ratioQos0OneThread', 'ratio gateway, one thread (mqtt.brokerThread off) / bare aedes, QoS 0', undefined],
    ['ratioQos1', 'ratio gateway (sync normal) / bare aedes, QoS 1', 0.7],
    ['ratioQos1Full', 'ratio gateway (sync full) / bare aedes, QoS 1', undefined],
    ['cpuRatioQos0', 'CPU per reading, bare aedes / gateway, QoS 0', undefined],
    ['cpuRatioQos0OneThread', 'CPU per reading, bare aedes / gateway one thread, QoS 0', undefined],
    ['cpuRatioQos1', 'CPU per reading, bare aedes / gateway (sync normal), QoS 1', undefined],
    ['cpuRatioQos1Full', 'CPU per reading, bare aedes / gateway (sync full), QoS 1', undefined],
  ];
  for (const [k, label, bound] of ratioRows) {
    if (bound !== undefined) row(label, fmt(t?.[k] ?? NaN, 2), `>= ${bound.toFixed(2)}`, t?.[k] === undefined ? undefined : t[k]! >= bound);
    else if (t?.[k] !== undefined) row(label, fmt(t[k], 2));
  }
  const fullProbe = r.puback?.find((p) => p.server.includes('sync=full'));
  for (const p of r.puback ?? []) {
    const figure =
      p.acks > 0
        ? `p50 ${fmt(p.p50Ms, 2)} ms, p99 ${fmt(p.p99Ms, 2)} ms (${fmt(p.msgPerSec)} msg/s, ${fmt(p.acks)} PUBACKs)`
        : `no figure: ${p.note ?? 'no PUBACK'}`;
    if (p === fullProbe) row(`publish -> PUBACK, ${p.server}, QoS 1 at ${fmt(p.rate)} msg/s`, figure, 'a figure', p.acks > 0);
    else row(`publish -> PUBACK, ${p.server}, QoS 1 at ${fmt(p.rate)} msg/s`, figure);
  }
  if (r.puback === undefined) row('publish -> PUBACK, gateway sync=full, QoS 1', '-', 'a figure');

  const gwCap = r.capacity?.find((c) => c.mode === 'alert');
  const bareCap = r.capacity?.find((c) => c.mode === 'delivery');
  for (const c of r.capacity ?? []) {
    const what = c.mode === 'alert' ? 'publish -> alert' : 'publish -> delivery';
    const failed = Number.isFinite(c.failedAt) ? `, failed at ${fmt(c.failedAt)}` : ', no failing step up to the search limit';
    // Where the search stopped: how busy the machine was and how long the server's threads queued for a core.
    const first = c.steps.find((x) => !x.pass && x.rate === c.failedAt);
    const why = first
      ? `; at ${fmt(first.rate)}: p99 ${fmt(first.p99Ms, 1)} ms, server CPU ${fmt(first.cpu, 2)}, machine ${fmt(first.machineBusy * 100)} % busy, server threads waited ${fmt(first.waitMsPerS)} ms/s for a core`
      : '';
    row(
      `paced capacity, ${c.server}: highest rate, one publish per write, ${what} p99 < ${c.boundMs} ms`,
      `${fmt(c.rate)} msg/s (${c.steps.length} steps${failed}${why})`,
    );
  }
  const capRatio = gwCap && bareCap && bareCap.rate > 0 ? gwCap.rate / bareCap.rate : undefined;
  row(
    'paced capacity ratio, gateway (alert) / bare aedes (delivery)',
    fmt(capRatio ?? NaN, 2),
    '>= 0.70',
    capRatio === undefined ? undefined : capRatio >= 0.7,
  );

  for (const l of r.latency ?? []) {
    const what = l.mode === 'alert' ? 'publish -> alert event' : 'publish -> delivery (floor)';
    const target = l.mode === 'alert' && l.label.startsWith('50') && l.server === 'gateway';
    row(
      `${what}, ${l.server}, ${l.label}: ${fmt(l.rate)} msg/s paced, server CPU ${fmt(l.cpu, 2)} (${l.samples} events, ${l.lost} lost)`,
      `p50 ${fmt(l.p50Ms, 2)} ms, p99 ${fmt(l.p99Ms, 2)} ms, max ${fmt(l.maxMs, 1)} ms`,
      target ? 'p99 < 5 ms (default checkpointInterval)' : '',
      target ? l.p99Ms < 5 : undefined,
    );
  }
  if (!r.latency?.some((l) => l.server === 'gateway' && l.label.startsWith('50')))
    row('publish -> alert p99 at 50 % of a core, default checkpointInterval', '-', 'p99 < 5 ms');

  for (const s of [...(r.scale ?? []), ...(r.memoryDefault ?? [])]) {
    const atDefault = s.settings.includes('(default)') && s.sensors >= 100_000;
    row(
      `memory, ${fmt(s.sensors)} sensors (${s.settings}; took ${fmt(s.msgPerSec)} msg/s at CPU ${fmt(s.cpu, 2)})${s.complete ? '' : ' INCOMPLETE: horizons not full'}`,
      s.fill
        ? `peak ${fmt(s.peakRssMiB)} MiB RSS with the horizons ${s.fill.horizonsFull ? 'full' : 'NOT full'} (dedup keys ${fmt(s.fill.keysFull[1] * 100, 1)} %, retained windows ${fmt(s.fill.retainedFull[1] * 100, 1)} % of full), end ${fmt(s.rssMiB)} MiB; ${Number.isNaN(s.fill.fillRate) ? `state built in ${fmt(s.fill.fillSeconds)} s and restored, up in ${fmt(s.fill.upSeconds, 1)} s` : `filled in ${fmt(s.fill.fillSeconds)} s, peak ${fmt(s.fill.fillPeakRssMiB)} MiB while filling`}`
        : `peak ${fmt(s.peakRssMiB)} MiB RSS, end ${fmt(s.rssMiB)} MiB (heap ${fmt(s.heapUsedMiB)} MiB), ${fmt(s.bytesPerSensor)} B/sensor, dedup keys ${s.dedupKeysFirst}->${s.dedupKeysLast}, retained ${s.retainedFirst}->${s.retainedLast}`,
      atDefault ? '< 1024 MiB peak RSS' : '',
      atDefault ? (s.complete ? s.peakRssMiB < 1024 : 'incomplete') : undefined,
    );
  }
  if (!r.memoryDefault?.some((s) => s.sensors >= 100_000)) row('memory, 100,000 sensors at 1 Hz, default horizons', '-', '< 1024 MiB peak RSS');
  // The pause is read from the runs with 100k sensors or more (checkpoints at their default interval under load).
  const big = [...(r.memoryDefault ?? []), ...(r.scale ?? [])].filter((s) => s.sensors >= 100_000 && Number.isFinite(s.checkpointPauseMaxMs));
  for (const s of big) {
    row(
      `longest checkpoint pause, ${fmt(s.sensors)} sensors (${s.settings}), over ${fmt(s.checkpoints)} checkpoints`,
      `${fmt(s.checkpointPauseMaxMs, 1)} ms`,
      '<= 2 ms',
      s.checkpointPauseMaxMs <= 2,
    );
  }
  if (big.length === 0) row('longest checkpoint pause, 100,000 sensors', '-', '<= 2 ms');
  for (const s of r.pause ?? []) {
    const t = s.turns;
    row(
      `checkpoint turns, ${fmt(s.sensors)} sensors (${s.settings}; took ${fmt(s.msgPerSec)} msg/s at CPU ${fmt(s.cpu, 2)}), over ${fmt(s.checkpoints)} checkpoints`,
      t === undefined ? `max ${fmt(s.checkpointPauseMaxMs, 1)} ms` : formatTurns(t),
      'no turn > 2 ms',
      t === undefined ? s.checkpointPauseMaxMs <= 2 : t.maxMs <= 2,
    );
  }
  if (r.pause === undefined) row('checkpoint turns, 100,000 sensors, carried load', '-', 'no turn > 2 ms');

  for (const s of r.startup ?? []) {
    const bound = s.sensors === 0 ? 500 : 2000;
    row(
      `start-up to first CONNACK, ${s.state} (${s.runsMs.map((x) => fmt(x)).join(', ')} ms; CPU at the CONNACK ${fmt(s.medianCpuMs)} ms)`,
      `${fmt(s.medianMs)} ms`,
      `< ${fmt(bound)} ms`,
      s.medianMs < bound,
    );
  }
  if (r.startup === undefined) row('start-up to first CONNACK (empty state; 100,000-sensor checkpoint)', '-', '< 500 ms; < 2,000 ms');

  if (r.outbox) {
    row('outbox commit (format + SQLite)', `${fmt(r.outbox.commitPointsPerSec)} points/s`);
    row(`outbox drain of ${fmt(r.outbox.backlog)} points`, `${fmt(r.outbox.drainPointsPerSec)} points/s`, '>= 100,000', r.outbox.drainPointsPerSec >= 100_000);
  }
  const sp = r.sparkplug;
  for (const [label, f] of [
    ['bare aedes', sp?.bare],
    ['gateway', sp?.gateway],
  ] as const) {
    if (f)
      row(
        `ingest Sparkplug DDATA (${sp!.metricsPerPayload} metrics/payload) ${label} QoS 0 (median of ${f.runs.join(', ')})`,
        `${fmt(f.msgPerSec)} msg/s = ${fmt(f.msgPerSec * sp!.metricsPerPayload)} readings/s, ${fmt(f.cpu, 2)} CPU s/1M readings`,
      );
  }
  if (sp?.ratio !== undefined) row('ratio gateway / bare aedes, Sparkplug DDATA, QoS 0', fmt(sp.ratio, 2));
  for (const e of r.errors) row('FAILED', e);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((x) => x[i]!.length)));
  console.log('');
  for (const x of rows) console.log(x.map((c, i) => c.padEnd(widths[i]!)).join(' | '));
}

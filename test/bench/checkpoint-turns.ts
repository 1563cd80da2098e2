/**
 * The event-loop turns of the periodic checkpoints, read from the gateway's /metrics
 * (gateway_checkpoint_turn_seconds{phase}, the histogram next to gateway_checkpoint_pause_max_seconds): how many
 * passed 2 ms, in which phase, and the 99th percentile (the upper bound of its bucket). Issue 23, target 2: "no
 * checkpoint pause above 2 ms at 100,000 sensors". Next to it (Linux) the same turns less the gateway thread's
 * waits for a core inside them (gateway_checkpoint_turn_running_seconds): a turn made long by the checkpoint's work
 * or a GC counts in both, one made long by other threads and processes holding the two cores only in the first.
 */
export const TURN_PHASES = ['begin', 'outbox', 'slice', 'finish'] as const;
export type TurnPhase = (typeof TURN_PHASES)[number];

export interface CheckpointTurns {
  /** Turns per phase, and how many of them took more than 2 ms. */
  readonly count: Readonly<Record<TurnPhase, number>>;
  readonly over2ms: Readonly<Record<TurnPhase, number>>;
  /** The upper bound of the bucket holding the 99th percentile of all turns, ms (Infinity past the last bucket). */
  readonly p99Ms: number;
  /** gateway_checkpoint_pause_max_seconds, ms. */
  readonly maxMs: number;
  /** The same turns less the waits for a core inside them: how many took more than 2 ms, and the p99 (Linux only). */
  readonly running?: { readonly over2ms: Readonly<Record<TurnPhase, number>>; readonly p99Ms: number };
}

/** Cumulative bucket counts of one phase: [le seconds, count]. */
function buckets(text: string, phase: TurnPhase, metric = 'gateway_checkpoint_turn_seconds'): [number, number][] {
  const out: [number, number][] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith(`${metric}_bucket{`) || !l.includes(`phase="${phase}"`)) continue;
    const le = /le="([^"]+)"/.exec(l)?.[1];
    if (le === undefined) continue;
    out.push([le === '+Inf' ? Infinity : Number(le), Number(l.slice(l.lastIndexOf(' ') + 1))]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** Turns per phase, turns over 2 ms per phase, and the p99's bucket bound (ms) of one of the two histograms. */
function histogram(text: string, metric: string) {
  const count = {} as Record<TurnPhase, number>;
  const over2ms = {} as Record<TurnPhase, number>;
  const all = new Map<number, number>();
  for (const ph of TURN_PHASES) {
    const b = buckets(text, ph, metric);
    count[ph] = b.at(-1)?.[1] ?? 0;
    over2ms[ph] = count[ph] - (b.find(([le]) => le === 0.002)?.[1] ?? 0);
    for (const [le, n] of b) all.set(le, (all.get(le) ?? 0) + n);
  }
  const total = TURN_PHASES.reduce((s, ph) => s + count[ph], 0);
  const sorted = [...all].sort((a, b) => a[0] - b[0]);
  const p99 = sorted.find(([, n]) => n >= 0.99 * total)?.[0] ?? Infinity;
  return { count, over2ms, total, p99Ms: p99 * 1000 };
}

export function checkpointTurns(text: string): CheckpointTurns | undefined {
  const { count, over2ms, total, p99Ms } = histogram(text, 'gateway_checkpoint_turn_seconds');
  if (total === 0) return undefined;
  const line = text.split('\n').find((l) => l.startsWith('gateway_checkpoint_pause_max_seconds '));
  const maxMs = line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1)) * 1000;
  const running = histogram(text, 'gateway_checkpoint_turn_running_seconds');
  return { count, over2ms, p99Ms, maxMs, ...(running.total > 0 ? { running: { over2ms: running.over2ms, p99Ms: running.p99Ms } } : {}) };
}

/** "begin 12 (3 > 2 ms), outbox 12 (0 > 2 ms), ...; p99 <= 2 ms". */
export function formatTurns(t: CheckpointTurns): string {
  const total = TURN_PHASES.reduce((s, ph) => s + t.count[ph], 0);
  const over = TURN_PHASES.reduce((s, ph) => s + t.over2ms[ph], 0);
  const r = t.running;
  const running =
    r === undefined
      ? ''
      : `; less the waits for a core: ${TURN_PHASES.reduce((s, ph) => s + r.over2ms[ph], 0)} > 2 ms (${TURN_PHASES.map((ph) => `${ph} ${r.over2ms[ph]}`).join(', ')}), p99 <= ${r.p99Ms} ms`;
  return `max ${t.maxMs.toFixed(1)} ms; ${over} of ${total} turns > 2 ms (${TURN_PHASES.map((ph) => `${ph} ${t.over2ms[ph]}/${t.count[ph]}`).join(', ')}); p99 <= ${t.p99Ms} ms${running}`;
}

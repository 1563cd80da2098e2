import { Counter, Gauge, type Registry } from 'prom-client';
import { SKIP_REASONS } from './datatypes.js';
import { HOST_EVENTS, REBIRTH_REASONS } from './host.js';

export const MESSAGE_TYPES = ['NBIRTH', 'NDATA', 'NDEATH', 'DBIRTH', 'DDATA', 'DDEATH'] as const;
export const METRIC_SKIPS = [...SKIP_REASONS, 'bad_timestamp', 'bad_name'] as const;

/**
 * The Sparkplug host's metrics (docs/sparkplug.md, "Metrics"), on the gateway's registry. The hot path counts in
 * plain fields (SparkplugCounts) that `beforeCollect` moves into the counters when one is read, as Ingest does.
 */
export function createSparkplugMetrics(registry: Registry, edgeNodes: () => { online: number; offline: number }, beforeCollect: () => void) {
  const counter = <L extends string>(name: string, help: string, label: L, values: readonly string[]) => {
    const c = new Counter<L>({ name, help, labelNames: [label], registers: [registry], collect: beforeCollect });
    // Every label value from the start, so a rate() over it has a zero to begin with.
    for (const v of values) c.inc({ [label]: v } as Record<L, string>, 0);
    return c;
  };
  const nodes = new Gauge<'state'>({
    name: 'gateway_sparkplug_edge_nodes',
    help: 'Sparkplug edge nodes known to the host, by state (online: births seen, no death since)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const s = edgeNodes();
      this.set({ state: 'online' }, s.online);
      this.set({ state: 'offline' }, s.offline);
    },
  });
  return {
    messages: counter('gateway_sparkplug_messages_total', 'Sparkplug messages received, by type', 'type', MESSAGE_TYPES),
    events: counter(
      'gateway_sparkplug_events_total',
      'Sparkplug host events: births, deaths (and ignored ones), sequence gaps, unknown and duplicate aliases, data before birth',
      'event',
      HOST_EVENTS,
    ),
    rebirths: counter('gateway_sparkplug_rebirths_requested_total', 'Rebirth requests (NCMD Node Control/Rebirth) sent, by reason', 'reason', REBIRTH_REASONS),
    skipped: counter(
      'gateway_sparkplug_metrics_skipped_total',
      'Sparkplug metrics that gave no reading, by reason (not windowed, flags, refused values)',
      'reason',
      METRIC_SKIPS,
    ),
    nodes,
  };
}

export type SparkplugMetrics = ReturnType<typeof createSparkplugMetrics>;

/** Counts by label value since the last collect. */
export class LabelCounts {
  private readonly counts = new Map<string, number>();
  inc(label: string): void {
    this.counts.set(label, (this.counts.get(label) ?? 0) + 1);
  }
  /** Adds the counts to `counter` under `labelName` and starts again. */
  moveTo<L extends string>(counter: Counter<L>, labelName: L): void {
    for (const [v, n] of this.counts) counter.inc({ [labelName]: v } as Record<L, string>, n);
    this.counts.clear();
  }
}

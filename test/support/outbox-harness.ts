import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type Logger } from '../../gateway/log.js';
import { createMetrics, type Metrics } from '../../gateway/metrics.js';
import type { OutPoint } from '../../gateway/sink/point.js';

/** Shared bits of the outbox tests: a temp folder, metrics, and a logger whose lines the test can read. */
export interface Harness {
  readonly dir: string;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly logLines: () => Record<string, unknown>[];
  counter(name: keyof Metrics): Promise<number>;
  cleanup(): void;
}

export function harness(): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'outbox-test-'));
  const metrics = createMetrics();
  const lines: string[] = [];
  const log = createLogger('debug', { write: (s: string) => void lines.push(s) });
  return {
    dir,
    metrics,
    log,
    logLines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    async counter(name) {
      const m = metrics[name] as { get(): Promise<{ values: { value: number }[] }> };
      return (await m.get()).values.reduce((s, v) => s + v.value, 0);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A telemetry-like point: one series per (device, sensor), `seq` says which write it came from. */
export function point(i: number, opts: { device?: string; sensor?: string; time?: number; value?: number; rev?: number } = {}): OutPoint {
  return {
    measurement: 'telemetry',
    tags: { device: opts.device ?? `dev-${i % 10}`, sensor: opts.sensor ?? 'temp' },
    fields: { mean: opts.value ?? i + 0.5, seq: i, revision: opts.rev ?? 0 },
    intFields: ['seq', 'revision'],
    time: opts.time ?? 1_700_000_000_000 + i * 1000,
  };
}

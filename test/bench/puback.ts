/**
 * publish -> PUBACK without queueing: QoS 1 at a fixed moderate rate, below every server's maximum, each server
 * once. A run with no PUBACK in its window is not a figure: it is reported with what the gateway's own metrics
 * say about it (publishes held for the ingest log, log entries, checkpoints by result, broker hand-over held).
 */
import type { ServerUnderTest } from './servers.js';
import type { PubackFigures } from './table.js';
import { measureRun, type ThroughputSettings } from './throughput.js';

const DIAGNOSTICS = [
  'gateway_ingest_held',
  'gateway_ingest_log_entries',
  'gateway_checkpoints_total',
  'gateway_broker_held_total',
  'gateway_messages_received_total',
];

async function diagnose(server: ServerUnderTest): Promise<string> {
  const metrics = (server as { metrics?: () => Promise<string> }).metrics;
  if (metrics === undefined) return 'no PUBACK in the window';
  const text = await metrics();
  const lines = text.split('\n').filter((l) => DIAGNOSTICS.some((m) => l.startsWith(m)));
  return `no PUBACK in the window; ${lines.join(', ')}`;
}

export async function runPuback(starts: readonly (() => Promise<ServerUnderTest>)[], rate: number, settings: ThroughputSettings): Promise<PubackFigures[]> {
  const out: PubackFigures[] = [];
  for (const start of starts) {
    const server = await start();
    try {
      let r = await measureRun(server, 1, settings, rate);
      // No PUBACK in the window (on a shared machine an fsync of sync=full can stall for seconds): once more with
      // a window four times as long before it counts as no figure.
      if (!r.ackCount) r = await measureRun(server, 1, { ...settings, measureMs: settings.measureMs * 4 }, rate);
      const f: PubackFigures = {
        server: r.server,
        rate,
        msgPerSec: r.msgPerSec,
        acks: r.ackCount ?? 0,
        p50Ms: r.ackP50Ms ?? NaN,
        p99Ms: r.ackP99Ms ?? NaN,
        ...(r.ackCount ? {} : { note: await diagnose(server) }),
      };
      const figure = f.acks > 0 ? `p50 ${f.p50Ms.toFixed(2)} ms, p99 ${f.p99Ms.toFixed(2)} ms (${f.acks} PUBACKs)` : (f.note ?? '');
      console.log(`  PUBACK latency at ${rate} msg/s, ${f.server}: ${figure} (${Math.round(f.msgPerSec)} msg/s)`);
      out.push(f);
    } finally {
      await server.stop();
    }
  }
  return out;
}

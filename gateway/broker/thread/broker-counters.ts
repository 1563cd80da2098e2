import type { AuthFailureReason } from '../../metrics.js';
import type { BrokerMetrics } from '../../metrics.js';
import { REFUSED_REASONS, type RefusedReason } from '../limits.js';

/**
 * The broker thread's counters, in shared memory: the thread adds with Atomics, the gateway reads them when a
 * metric is read (scrape, stats report) and moves the increase into its prom-client counters. No message and no
 * round trip: a refusal counted before the thread closes a connection is visible the moment the client sees it
 * closed, and a scrape under full load does not wait for the busy broker thread.
 */
const AUTH: readonly AuthFailureReason[] = [
  'bad_password',
  'unknown_device',
  'anonymous_refused',
  'certificate_refused',
  'client_id_taken',
  'publish_denied',
  'subscribe_denied',
];
const REFUSED: readonly RefusedReason[] = REFUSED_REASONS;
const CLIENTS = AUTH.length + REFUSED.length;
const HELD = CLIENTS + 1;
const SLOTS = HELD + 1;

export function createCounterBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOTS * 4);
}

/** The broker thread's BrokerMetrics: every change is one Atomics.add. */
export function sharedBrokerMetrics(buffer: SharedArrayBuffer): BrokerMetrics {
  const slots = new Int32Array(buffer);
  const at = (reasons: readonly string[], offset: number) => new Map(reasons.map((r, i) => [r, offset + i]));
  const auth = at(AUTH, 0);
  const refused = at(REFUSED, AUTH.length);
  return {
    authFailures: { inc: ({ reason }) => void Atomics.add(slots, auth.get(reason)!, 1) },
    mqttRefused: { inc: ({ reason }) => void Atomics.add(slots, refused.get(reason)!, 1) },
    connectedClients: { inc: () => void Atomics.add(slots, CLIENTS, 1), dec: () => void Atomics.sub(slots, CLIENTS, 1) },
    brokerHeld: { inc: (n) => void Atomics.add(slots, HELD, n) },
  };
}

/** The gateway's side: `sync()` moves what the thread counted since the last call into `metrics`. */
export class CounterMirror {
  private readonly slots: Int32Array;
  private readonly seen: Int32Array;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly metrics: Required<BrokerMetrics> & { readonly connectedClients: { set(n: number): void } },
  ) {
    this.slots = new Int32Array(buffer);
    this.seen = new Int32Array(SLOTS);
  }

  /** Connected clients now (the gauge's slot), for health without a metrics read. */
  get clients(): number {
    return Atomics.load(this.slots, CLIENTS);
  }

  sync(): void {
    const m = this.metrics;
    for (let i = 0; i < SLOTS; i++) {
      const now = Atomics.load(this.slots, i);
      if (i === CLIENTS) {
        m.connectedClients.set(now);
        continue;
      }
      // Counts wrap at 2^32; reads come far more often than that many increments.
      const delta = (now - this.seen[i]!) >>> 0;
      if (delta === 0) continue;
      this.seen[i] = now;
      if (i < AUTH.length) m.authFailures.inc({ reason: AUTH[i]! }, delta);
      else if (i < CLIENTS) m.mqttRefused.inc({ reason: REFUSED[i - AUTH.length]! }, delta);
      else m.brokerHeld.inc(delta);
    }
  }
}

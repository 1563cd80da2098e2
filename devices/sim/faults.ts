import type { Rng } from './rng.js';

/** One message of the wire contract (docs/wire-contract.md): `devices/{id}/telemetry`. */
export interface TelemetryMessage {
  readonly ts: number;
  readonly seq: number;
  readonly readings: Readonly<Record<string, number>>;
}

export type OutKind = 'live' | 'duplicate' | 'reordered' | 'late' | 'backlog';

export interface Outgoing {
  /** A backlog is flushed as an array, as a device that was offline would. */
  readonly payload: TelemetryMessage | readonly TelemetryMessage[];
  readonly kind: OutKind;
}

export interface FaultOptions {
  /** Probability that a sent message is sent a second time right after (an unacknowledged resend). */
  readonly duplicates: number;
  /** Probability that a message is held back and sent after the next one. */
  readonly reorder: number;
  /** Probability that a message is held back for `lateByMs` (beyond the gateway's allowed lateness). */
  readonly late: number;
  readonly lateByMs: number;
  /** Every `offlineEveryMs` the device loses its uplink for `offlineForMs` (0: never); it buffers meanwhile. */
  readonly offlineEveryMs: number;
  readonly offlineForMs: number;
  /** Buffered messages beyond this are dropped, oldest first (a device's memory is finite). */
  readonly maxBacklog: number;
  /** A backlog is flushed in arrays of at most this many messages. */
  readonly backlogChunk: number;
}

export const NO_FAULTS: FaultOptions = {
  duplicates: 0,
  reorder: 0,
  late: 0,
  lateByMs: 15_000,
  offlineEveryMs: 0,
  offlineForMs: 0,
  maxBacklog: 10_000,
  backlogChunk: 100,
};

/**
 * Offline at the end of each cycle of `every` ms, shifted by the device's `phaseMs` so a fleet does not drop
 * all at once. Pure.
 */
export function isOffline(tMs: number, phaseMs: number, everyMs: number, forMs: number): boolean {
  if (everyMs <= 0 || forMs <= 0) return false;
  const pos = (((tMs + phaseMs) % everyMs) + everyMs) % everyMs;
  return pos >= everyMs - Math.min(forMs, everyMs);
}

export interface FaultCounters {
  duplicates: number;
  reordered: number;
  late: number;
  backlogFlushes: number;
  backlogMessages: number;
  droppedOffline: number;
}

/**
 * The faults of one device, as a state machine fed one fresh message per sample: it decides what goes on the
 * wire now (fresh, resent, released from being held back, or a backlog) with a seeded RNG. No I/O, no clock.
 */
export class DeviceFaults {
  private held: TelemetryMessage | undefined;
  private readonly lateQueue: { releaseAt: number; msg: TelemetryMessage }[] = [];
  private readonly backlog: TelemetryMessage[] = [];
  readonly counters: FaultCounters = { duplicates: 0, reordered: 0, late: 0, backlogFlushes: 0, backlogMessages: 0, droppedOffline: 0 };

  constructor(
    private readonly opts: FaultOptions,
    private readonly rng: Rng,
  ) {}

  get backlogSize(): number {
    return this.backlog.length;
  }

  /** `msg` is this sample's fresh message; `offline` whether the uplink is down at `now`. */
  step(msg: TelemetryMessage, now: number, offline: boolean): Outgoing[] {
    if (offline) {
      this.backlog.push(msg);
      if (this.backlog.length > this.opts.maxBacklog) {
        this.backlog.shift();
        this.counters.droppedOffline++;
      }
      return [];
    }
    const out: Outgoing[] = [];
    if (this.backlog.length > 0) {
      this.counters.backlogFlushes++;
      this.counters.backlogMessages += this.backlog.length;
      for (let i = 0; i < this.backlog.length; i += this.opts.backlogChunk) {
        out.push({ payload: this.backlog.slice(i, i + this.opts.backlogChunk), kind: 'backlog' });
      }
      this.backlog.length = 0;
    }
    while (this.lateQueue.length > 0 && this.lateQueue[0]!.releaseAt <= now) {
      out.push({ payload: this.lateQueue.shift()!.msg, kind: 'late' });
    }
    if (this.rng() < this.opts.late) {
      this.counters.late++;
      this.lateQueue.push({ releaseAt: now + this.opts.lateByMs, msg });
      return out;
    }
    if (this.held) {
      this.send(out, msg, 'live');
      this.send(out, this.held, 'reordered');
      this.held = undefined;
    } else if (this.rng() < this.opts.reorder) {
      this.counters.reordered++;
      this.held = msg;
    } else {
      this.send(out, msg, 'live');
    }
    return out;
  }

  /** Messages still held back (late or reordered) or buffered: what stop() flushes so a run loses nothing. */
  drain(): Outgoing[] {
    const out: Outgoing[] = [];
    if (this.backlog.length > 0) out.push({ payload: this.backlog.splice(0), kind: 'backlog' });
    for (const { msg } of this.lateQueue.splice(0)) out.push({ payload: msg, kind: 'late' });
    if (this.held) out.push({ payload: this.held, kind: 'reordered' });
    this.held = undefined;
    return out;
  }

  private send(out: Outgoing[], msg: TelemetryMessage, kind: OutKind): void {
    out.push({ payload: msg, kind });
    if (this.rng() < this.opts.duplicates) {
      this.counters.duplicates++;
      out.push({ payload: msg, kind: 'duplicate' });
    }
  }
}

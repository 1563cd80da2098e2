/**
 * How SIGINT/SIGTERM are read: one request to stop, even when it arrives more than once.
 *
 * A stop request is usually delivered twice. A terminal's Ctrl-C sends SIGINT to every process of the foreground
 * process group, and under `npm start` that group holds npm as well as the gateway; npm forwards the signals it
 * gets to its script (@npmcli/run-script, signal-manager.js), so the gateway receives SIGINT twice within
 * milliseconds. A supervisor that signals every process of its unit (systemd's default `KillMode=control-group`)
 * does the same with SIGTERM. Reading the second copy as "hurry up" would turn every ordinary stop into a crash.
 *
 * So: the first signal starts the graceful stop; signals within `STOP_SIGNAL_COALESCE_MS` of it are the same
 * request; a signal after that, or a third signal at any time, is the operator insisting, and the process exits
 * at once (exit code 1; what the last checkpoint and the ingest log hold survives, as after a crash).
 *
 * Pure: the caller passes the time of each signal (main.ts passes Date.now()).
 */

/** Signals this close to the first one are copies of the same request to stop (docs: README, docs/durability.md). */
export const STOP_SIGNAL_COALESCE_MS = 3000;

/** `stop`: begin the graceful stop; `same`: a copy of the request already being served; `force`: exit now. */
export type StopDecision = 'stop' | 'same' | 'force';

export class StopSignals {
  private firstAt: number | undefined;
  private count = 0;

  constructor(private readonly coalesceMs = STOP_SIGNAL_COALESCE_MS) {}

  /** Called once per signal received, in order, with the time it arrived (ms). */
  receive(now: number): StopDecision {
    this.count++;
    if (this.firstAt === undefined) {
      this.firstAt = now;
      return 'stop';
    }
    // A clock stepped back reads as "close together": never forces by accident.
    if (this.count >= 3 || now - this.firstAt > this.coalesceMs) return 'force';
    return 'same';
  }
}

import { DeviceFaults, isOffline, type FaultOptions, type Outgoing } from './faults.js';
import type { Rng } from './rng.js';
import { createSignal, type Signal } from './signals.js';

export interface DeviceModelOptions {
  readonly id: string;
  readonly sensors: readonly string[];
  readonly faults: FaultOptions;
  /** This device's clock error in ms (the fleet draws it from ±clockSkew). */
  readonly skewMs: number;
  /** Where this device is in its offline cycle (the fleet spreads it over the cycle). */
  readonly offlinePhaseMs: number;
}

export interface Sample {
  readonly out: readonly Outgoing[];
  readonly offline: boolean;
}

/**
 * One virtual device: signals, a message counter, a skewed clock and its faults. `sample(now)` is called once per
 * sampling period by the fleet with the real time and returns what to publish; it does no I/O itself.
 */
export class DeviceModel {
  readonly id: string;
  readonly faults: DeviceFaults;
  private readonly signals: ReadonlyArray<readonly [string, Signal]>;
  private seq = 0;

  constructor(
    private readonly opts: DeviceModelOptions,
    rng: Rng,
  ) {
    this.id = opts.id;
    this.signals = opts.sensors.map((s) => [s, createSignal(s, rng)] as const);
    this.faults = new DeviceFaults(opts.faults, rng);
  }

  sample(now: number): Sample {
    const ts = Math.round(now + this.opts.skewMs);
    const readings: Record<string, number> = {};
    for (const [name, signal] of this.signals) readings[name] = signal.next(ts);
    const offline = isOffline(now, this.opts.offlinePhaseMs, this.opts.faults.offlineEveryMs, this.opts.faults.offlineForMs);
    return { out: this.faults.step({ ts, seq: this.seq++, readings }, now, offline), offline };
  }

  get sent(): number {
    return this.seq;
  }
}

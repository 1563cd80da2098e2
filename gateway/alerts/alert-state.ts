import { newSlot, type Slot } from './condition.js';
import { compileGlob, type Matcher } from './glob.js';
import { restoreSensors, toSnapshot, type AlertSnapshot, type RestoreResult } from './snapshot.js';
import { encodeAlertSnapshot } from './snapshot-binary.js';
import { AlertDeltas, type AlertDelta, type FiringOf } from './snapshot-rows.js';
import { decodeAlertSnapshot } from './snapshot-binary-read.js';
import type { AlertEvent, AlertRule } from './types.js';

export interface AlertEngineOptions {
  /** Gateway clock: noData silence, and the ts of resolves caused by rule changes. */
  readonly now?: () => number;
  /** Cap on cached "matches no rule" keys, so garbage sensor names cannot grow memory without bound. */
  readonly maxUnmatchedKeys?: number;
}

export interface CompiledRule {
  readonly rule: AlertRule;
  readonly device: Matcher;
  readonly sensor: Matcher;
}

/** State of one (device, sensor) that matches at least one rule. */
export interface Entry {
  readonly device: string;
  readonly sensor: string;
  newestTs: number;
  lastValue: number;
  /** Gateway time of the last in-order reading; kept current only while the entry has a noData rule. */
  lastSeen: number;
  slots: Slot[];
  hasNoData: boolean;
}

/** sensor -> its state, or null when it matches no rule. */
type SensorMap = Map<string, Entry | null>;

/**
 * What the alert engine knows (engine.ts evaluates readings against it): the compiled rules, the state of every
 * (device, sensor) they watch, which rules watch a sensor (decided at its first reading, and again on setRules),
 * the bounded cache of sensors no rule watches, and this state's persistence: snapshot, restore and the
 * incremental checkpoint captures. The engine's base class, so that the hot path reads these fields directly.
 */
export abstract class AlertState {
  protected readonly clock: () => number;
  private readonly maxUnmatched: number;
  protected compiled: readonly CompiledRule[] = [];
  /**
   * device -> sensor -> state; null at either level when nothing there matches a rule. Nested rather than
   * one Map on `device + sep + sensor`: that key costs an allocation, a flatten and a hash per reading,
   * which measured ~5x slower than two lookups on the reading's own (hash-cached) strings. A device no
   * rule's device glob matches costs one lookup; a watched device's unwatched sensor two.
   */
  protected readonly devices = new Map<string, SensorMap | null>();
  /** Null entries at both levels, bounded by maxUnmatched. */
  protected unmatched = 0;
  /** Entries with at least one noData rule, scanned by tick(). */
  protected readonly silentCandidates = new Set<Entry>();
  /** Incremental checkpoint captures and the devices changed since the last (snapshot-rows.ts). */
  protected readonly deltas = new AlertDeltas();

  constructor(rules: readonly AlertRule[] = [], opts: AlertEngineOptions = {}) {
    this.clock = opts.now ?? Date.now;
    this.maxUnmatched = opts.maxUnmatchedKeys ?? 100_000;
    this.compiled = rules.map(compileRule);
  }

  rules(): readonly AlertRule[] {
    return this.compiled.map((c) => c.rule);
  }

  protected *entries(): Generator<Entry> {
    for (const sensors of this.devices.values()) {
      if (sensors === null) continue;
      for (const e of sensors.values()) if (e !== null) yield e;
    }
  }

  /** The alert state as a plain value (see snapshot.ts): tests and tools; checkpoints use encodeSnapshot. */
  snapshot(): AlertSnapshot {
    return toSnapshot(this.entries(), this.clock());
  }

  /**
   * The alert state as bytes written straight from the live maps, with the caller's firing events
   * (snapshot-binary.ts). Called by every checkpoint. `sizeHint`: the previous snapshot's byte length.
   */
  encodeSnapshot(firing: ReadonlyMap<unknown, AlertEvent> = new Map(), sizeHint?: number): Buffer {
    return encodeAlertSnapshot(this.clock(), this.devices, firing, sizeHint);
  }

  /**
   * Replaces all state with the one `bytes` hold (encodeSnapshot), under the current
   * rules: call after setRules/constructor and before the first reading. Saved alerts whose rule no longer
   * exists (same name, match and kind) are dropped. The gateway cannot know what sensors sent while it was
   * down, so noData silence is measured from `now`. A malformed snapshot is an error result; state is untouched.
   */
  restore(bytes: Uint8Array, now: number = this.clock()): RestoreResult {
    const parsed = decodeAlertSnapshot(bytes);
    return parsed.ok ? this.restoreSnapshot(parsed.snapshot, now) : parsed;
  }

  /** restore() of a decoded snapshot (decodeAlertSnapshot). */
  restoreSnapshot(snapshot: AlertSnapshot, now: number = this.clock()): Extract<RestoreResult, { ok: true }> {
    this.deltas.restored();
    this.devices.clear();
    this.silentCandidates.clear();
    this.unmatched = 0;
    const restored = restoreSensors(snapshot, (device, sensor) => this.matching(device, sensor).map((c) => c.rule), now);
    for (const r of restored.sensors) {
      const e: Entry = { device: r.device, sensor: r.sensor, newestTs: r.newestTs, lastValue: r.lastValue, lastSeen: now, slots: [], hasNoData: false };
      this.attach(e, r.slots);
      let map = this.devices.get(r.device);
      if (!map) this.devices.set(r.device, (map = new Map()));
      map.set(r.sensor, e);
    }
    return { ok: true, sensors: restored.sensors.length, alerts: restored.alerts };
  }

  /**
   * Starts capturing the devices whose alert state changed since the last delta began (all of them the first
   * time, after a restore, or after a failed full one) as rows of an incremental checkpoint
   * (snapshot-rows.ts), written in steps while readings go on, yet the state when it began. `firingOf`: the
   * service's firing event of an alert.
   */
  beginDelta(firingOf: FiringOf): AlertDelta {
    return this.deltas.begin(this.devices, firingOf, this.clock());
  }

  /** First reading of a device: null when no rule's device glob matches it. */
  protected admitDevice(device: string): SensorMap | null {
    const sensors: SensorMap | null = this.compiled.some((c) => c.device(device)) ? new Map() : null;
    if (sensors === null && ++this.unmatched > this.maxUnmatched) this.forgetUnmatched();
    this.devices.set(device, sensors);
    return sensors;
  }

  /** First reading of a (device, sensor): decide once which rules watch it. */
  protected admit(sensors: SensorMap, device: string, sensor: string): Entry | null {
    const matching = this.matching(device, sensor);
    if (matching.length === 0) {
      if (++this.unmatched > this.maxUnmatched) this.forgetUnmatched();
      sensors.set(sensor, null);
      return null;
    }
    const now = this.clock();
    const e: Entry = { device, sensor, newestTs: -Infinity, lastValue: NaN, lastSeen: now, slots: [], hasNoData: false };
    this.attach(
      e,
      matching.map((c) => newSlot(c.rule, now)),
    );
    sensors.set(sensor, e);
    return e;
  }

  protected attach(e: Entry, slots: Slot[]): void {
    e.slots = slots;
    e.hasNoData = slots.some((s) => s.rule.kind === 'noData');
    if (e.hasNoData) this.silentCandidates.add(e);
    else this.silentCandidates.delete(e);
  }

  protected matching(device: string, sensor: string): CompiledRule[] {
    return this.compiled.filter((c) => c.device(device) && c.sensor(sensor));
  }

  /** Drops every cached "no rule" decision (they are re-made on demand); keeps all alert state. */
  protected forgetUnmatched(): void {
    for (const [device, sensors] of this.devices) {
      if (sensors === null) {
        this.devices.delete(device);
        continue;
      }
      for (const [sensor, e] of sensors) if (e === null) sensors.delete(sensor);
      if (sensors.size === 0) this.devices.delete(device);
    }
    this.unmatched = 0;
  }
}

export function compileRule(rule: AlertRule): CompiledRule {
  return { rule, device: compileGlob(rule.match.device), sensor: compileGlob(rule.match.sensor) };
}

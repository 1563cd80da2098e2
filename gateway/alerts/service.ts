import { readFileSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Reading } from '../pipeline/types.js';
import { AlertEngine, NO_EVENTS } from './engine.js';
import { decodeAlertSnapshot } from './snapshot-binary-read.js';
import type { AlertDelta } from './snapshot-rows.js';
import { rulesETag, validateRulesText, writeRulesFileAtomic, type RulesFormat } from './rules-file.js';
import { formatRuleError } from './rules-parse.js';
import { firingEventOf, type AlertEvent, type AlertRule, type FiringAlert, type RuleError } from './types.js';
import { RulesFileWatcher, type RulesLoadStatus } from './watcher.js';

export interface AlertServiceDeps {
  readonly rulesFile: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly now: () => number;
  /** Receives every state change (MQTT retained publish + the `alerts` measurement). Must not throw. */
  readonly publish: (events: readonly AlertEvent[]) => void;
  /**
   * Re-publishes the retained MQTT state of alerts still firing after restore(), without recording a change
   * (no point, no counter): with mqtt.sessions: memory the broker has forgotten them. Must not throw.
   */
  readonly retain?: (events: readonly AlertEvent[]) => void;
}

const alertKey = (a: { rule: string; device: string; sensor: string }) => `${a.rule}\u0000${a.device}\u0000${a.sensor}`;

/** What replaceRules did. */
export type ReplaceResult =
  | { readonly kind: 'replaced'; readonly etag: string; readonly ruleCount: number }
  /** The file is no longer the version the caller expected (another edit came first); nothing was written. */
  | { readonly kind: 'conflict'; readonly currentEtag: string | undefined }
  /** The text is not a valid rules file: every problem, with its path (and line/column); nothing was written. */
  | { readonly kind: 'invalid'; readonly errors: readonly RuleError[] };

/**
 * Alerts as a running part of the gateway: the pure engine, fed by every accepted reading and the gateway
 * clock, plus the hot-reloaded rules file and the admin API's writes to it. A broken rules file never stops
 * the gateway: it starts with no rules (logged, shown in /health) and picks the file up once it is fixed.
 */
export class AlertService {
  private readonly engine: AlertEngine;
  private readonly watcher: RulesFileWatcher;
  private readonly events: AlertEvent[] = [];
  /** The firing event of every alert firing now (rule/device/sensor key): the retained messages to restore. */
  private readonly firingEvents = new Map<string, AlertEvent>();
  /** Replacements run one at a time, so a version check and the write it guards cannot interleave with another. */
  private replaceQueue: Promise<unknown> = Promise.resolve();
  /** The last snapshot's byte length: the next one's buffer is sized from it. */
  private snapshotBytes = 0;

  constructor(private readonly deps: AlertServiceDeps) {
    this.engine = new AlertEngine([], { now: deps.now });
    this.watcher = new RulesFileWatcher({
      path: deps.rulesFile,
      now: deps.now,
      onChange: (change) => {
        if (change.ok) {
          this.emit(this.engine.setRules(change.rules, deps.now()));
          deps.metrics.rulesReloads.inc({ result: 'applied' });
          deps.log.info({ file: deps.rulesFile, rules: change.rules.length }, 'threshold rules reloaded');
        } else {
          deps.metrics.rulesReloads.inc({ result: 'invalid' });
          this.logErrors(change.errors, 'threshold rules file is invalid: the previous rules keep running');
        }
      },
      onError: (err) => deps.log.warn({ err, file: deps.rulesFile }, 'threshold rules watcher problem'),
    });
  }

  /** Loads the rules file and starts watching it. Call before restore(). */
  start(): void {
    const first = this.watcher.start();
    if (first.ok) {
      this.engine.setRules(first.rules, this.deps.now());
      this.deps.log.info({ file: this.deps.rulesFile, rules: first.rules.length }, 'threshold rules loaded');
    } else {
      this.logErrors(first.errors, 'threshold rules file is invalid or missing: starting with no rules');
    }
  }

  /** Hot path: one call per accepted reading. */
  onReading(r: Reading): void {
    const events = this.engine.onReading(r, this.events);
    if (events !== NO_EVENTS && events.length > 0) this.flushEvents();
  }

  tick(now: number): void {
    const events = this.engine.tick(now, this.events);
    if (events !== NO_EVENTS && events.length > 0) this.flushEvents();
  }

  /** The device's sensors are stale now (Sparkplug NDEATH/DDEATH): noData rules fire at once. */
  staleNow(device: string, now: number): void {
    const events = this.engine.staleNow(device, now, this.events);
    if (events !== NO_EVENTS && events.length > 0) this.flushEvents();
  }

  /**
   * The checkpoint's alert part: the engine's state and the firing events (to re-publish verbatim after a
   * restart), as one Buffer (snapshot-binary.ts).
   */
  snapshot(): Buffer {
    const bytes = this.engine.encodeSnapshot(this.firingEvents, this.snapshotBytes);
    this.snapshotBytes = bytes.length;
    return bytes;
  }

  /**
   * The checkpoint's alert part as rows: the devices changed since the last delta (engine.beginDelta), each
   * with its firing events, written in steps (alerts/snapshot-rows.ts).
   */
  beginDelta(): AlertDelta {
    return this.engine.beginDelta((rule, device, sensor) => this.firingEvents.get(alertKey({ rule, device, sensor })));
  }

  /**
   * Restores the state saved by snapshot(), under the rules loaded by start(). Alerts still firing get their
   * retained MQTT message back (the same payload, not a new event). Alerts that were firing but whose rule was
   * removed or changed while the gateway was down are resolved, as a hot reload would have done.
   */
  restore(bytes: Uint8Array): void {
    const now = this.deps.now();
    const parsed = decodeAlertSnapshot(bytes);
    if (!parsed.ok) {
      this.deps.log.error({ error: parsed.error }, 'alert state could not be restored: starting from ok');
      return;
    }
    const result = this.engine.restoreSnapshot(parsed.snapshot, now);
    const saved = parsed.firing;
    const firingNow = new Map(this.engine.firing().map((f) => [alertKey(f), f] as const));
    const retained: AlertEvent[] = [];
    const gone = new Map<string, AlertEvent>();
    // The saved events first, in their order, so a snapshot taken right after a restore is the same bytes.
    for (const e of saved) {
      const key = alertKey(e);
      if (firingNow.delete(key)) {
        this.firingEvents.set(key, e);
        retained.push(e);
      } else if (!this.firingEvents.has(key)) gone.set(key, e);
    }
    for (const [key, f] of firingNow) {
      const e = firingEventOf(f);
      this.firingEvents.set(key, e);
      retained.push(e);
    }
    if (retained.length > 0) this.deps.retain?.(retained);
    // Resolved like a rule change on hot reload: gateway time, the sensor's last value.
    const lastValue = (e: AlertEvent) => parsed.snapshot.sensors.find((x) => x.device === e.device && x.sensor === e.sensor)?.lastValue ?? e.value;
    const dropped = [...gone.values()].map((e): AlertEvent => ({ ...e, state: 'resolved', value: lastValue(e), ts: now, since: now }));
    this.emit(dropped);
    this.deps.log.info(
      { sensors: result.sensors, alerts: result.alerts, firing: retained.length, resolvedByRuleChange: dropped.length },
      'alert state restored',
    );
  }

  firing(): FiringAlert[] {
    return this.engine.firing();
  }

  rules(): readonly AlertRule[] {
    return this.engine.rules();
  }

  status(): RulesLoadStatus {
    return this.watcher.status();
  }

  /** The rules file's current text and ETag (GET /api/thresholds?format=yaml, the raw editor). */
  fileText(): { text: string; etag: string } | undefined {
    try {
      const text = readFileSync(this.deps.rulesFile, 'utf8');
      return { text, etag: rulesETag(text) };
    } catch {
      return undefined;
    }
  }

  /**
   * Replaces the rules file with `text` (the admin API's write): validates it, refuses it when `expectedEtags`
   * is given and the file's current ETag is none of them (another edit overtook this one), writes it atomically
   * and applies it at once (the watcher's own event for this write is then a no-op).
   */
  replaceRules(text: string, format: RulesFormat, expectedEtags?: readonly string[]): Promise<ReplaceResult> {
    const run = this.replaceQueue.then(() => this.replaceNow(text, format, expectedEtags));
    this.replaceQueue = run.catch(() => undefined);
    return run;
  }

  private async replaceNow(text: string, format: RulesFormat, expectedEtags: readonly string[] | undefined): Promise<ReplaceResult> {
    const checked = validateRulesText(text, format);
    if (!checked.ok) return { kind: 'invalid', errors: checked.errors };
    if (expectedEtags !== undefined) {
      const current = this.fileText()?.etag;
      if (current === undefined || !expectedEtags.includes(current)) return { kind: 'conflict', currentEtag: current };
    }
    await writeRulesFileAtomic(this.deps.rulesFile, checked.fileText);
    this.watcher.reload();
    return { kind: 'replaced', etag: checked.etag, ruleCount: checked.rules.length };
  }

  close(): void {
    this.watcher.close();
  }

  private flushEvents(): void {
    for (const e of this.events) {
      if (e.state === 'firing') this.firingEvents.set(alertKey(e), e);
      else this.firingEvents.delete(alertKey(e));
      if (e.state === 'firing') this.deps.metrics.alertsFired.inc({ rule: e.rule, severity: e.severity });
      this.deps.log.info({ alert: e }, `alert ${e.state}: ${e.rule} on ${e.device}/${e.sensor}`);
    }
    this.deps.publish(this.events.slice());
    this.events.length = 0;
  }

  private emit(events: readonly AlertEvent[]): void {
    if (events.length === 0) return;
    this.events.push(...events);
    this.flushEvents();
  }

  private logErrors(errors: readonly RuleError[], msg: string): void {
    this.deps.log.error({ file: this.deps.rulesFile, errors: errors.map((e) => formatRuleError(this.deps.rulesFile, e)) }, msg);
  }
}

import { readFileSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Reading } from '../pipeline/types.js';
import { AlertEngine, NO_EVENTS } from './engine.js';
import { rulesETag, validateRulesBody, writeRulesFileAtomic } from './rules-file.js';
import { formatRuleError } from './rules-parse.js';
import type { AlertEvent, AlertRule, FiringAlert, RuleError } from './types.js';
import { RulesFileWatcher, type RulesLoadStatus } from './watcher.js';

export interface AlertServiceDeps {
  readonly rulesFile: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly now: () => number;
  /** Receives every state change (MQTT retained publish + the `alerts` measurement). Must not throw. */
  readonly publish: (events: readonly AlertEvent[]) => void;
}

export type PutResult =
  | { readonly ok: true; readonly etag: string; readonly ruleCount: number }
  | { readonly ok: false; readonly status: 400 | 412 | 415 | 428; readonly errors: readonly RuleError[] };

/**
 * Alerts as a running part of the gateway: the pure engine, fed by every accepted reading and the gateway
 * clock, plus the hot-reloaded rules file and the admin API's writes to it. A broken rules file never stops
 * the gateway: it starts with no rules (logged, shown in /health) and picks the file up once it is fixed.
 */
export class AlertService {
  private readonly engine: AlertEngine;
  private readonly watcher: RulesFileWatcher;
  private readonly events: AlertEvent[] = [];

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

  snapshot(): unknown {
    return this.engine.snapshot();
  }

  restore(snapshot: unknown): void {
    const result = this.engine.restore(snapshot, this.deps.now());
    if (!result.ok) this.deps.log.error({ error: result.error }, 'alert state could not be restored: starting from ok');
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
   * PUT /api/thresholds: validates the body, refuses a stale If-Match (another edit overtook this one), writes
   * the file atomically and applies it at once (the watcher's own event for this write is then a no-op).
   */
  async put(body: string, contentType: string | undefined, ifMatch: string | undefined): Promise<PutResult> {
    const checked = validateRulesBody(body, contentType);
    if (!checked.ok) {
      return { ok: false, status: checked.reason === 'unsupported-media-type' ? 415 : 400, errors: checked.errors };
    }
    if (ifMatch !== undefined && ifMatch !== '*') {
      const current = this.fileText()?.etag;
      if (current !== ifMatch) {
        return {
          ok: false,
          status: 412,
          errors: [{ path: '(file)', message: 'the rules file was changed by another edit since you loaded it: reload, then apply your change again' }],
        };
      }
    }
    await writeRulesFileAtomic(this.deps.rulesFile, checked.fileText);
    this.watcher.reload();
    return { ok: true, etag: checked.etag, ruleCount: checked.rules.length };
  }

  close(): void {
    this.watcher.close();
  }

  private flushEvents(): void {
    for (const e of this.events) {
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

/**
 * Alert domain types: plain, serialisable data shared by the rule parser, the engine and (later) the
 * MQTT/InfluxDB/admin adapters that the composition root wires to them.
 */

export type Severity = 'info' | 'warning' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

/** Globs over the device id and the sensor name: `*` is any run of characters, `?` one character. */
export interface RuleMatch {
  readonly device: string;
  readonly sensor: string;
}

interface RuleBase {
  /** Unique within a rules file; names the alert. */
  readonly name: string;
  readonly match: RuleMatch;
  readonly severity: Severity;
}

/**
 * Fires when value > above or value < below (at least one is set; with both it is an "outside the band" alert).
 * A firing alert resolves only once the value is back inside [below + hysteresis, above - hysteresis].
 * The violation must hold for `forMs` of reading time (0: fire on the first violating reading).
 */
export interface ThresholdRule extends RuleBase {
  readonly kind: 'threshold';
  readonly above: number | null;
  readonly below: number | null;
  readonly hysteresis: number;
  readonly forMs: number;
}

/** Fires when a sensor seen before sends nothing for `noDataMs` of gateway time; resolves on its next reading. */
export interface NoDataRule extends RuleBase {
  readonly kind: 'noData';
  readonly noDataMs: number;
}

/**
 * One rule is exactly one condition kind: a rule with both a threshold and `noData` is rejected by the
 * parser, so (rule, device, sensor) always names exactly one alert.
 */
export type AlertRule = ThresholdRule | NoDataRule;

/**
 * A state change of one alert (rule, device, sensor).
 *
 * - `ts`: for threshold rules the timestamp of the reading that changed the state (device time);
 *   for a noData firing the gateway time of the tick that fired it; for a noData resolve the resolving
 *   reading's timestamp. For resolves caused by a rule change (setRules) the gateway time of the change.
 * - `since`: when the state the alert is now in began. Firing (threshold): timestamp of the first violating
 *   reading, i.e. the start of pending (equals `ts` when for = 0). Firing (noData): gateway time of the last
 *   reading, i.e. when the silence began. Resolved: equals `ts` (the ok state begins now).
 * - `value`: the reading's value; for noData firing and rule-change resolves, the last value received.
 * - `threshold`: the configured limit the alert is about (`above` or `below`, whichever side was last
 *   violated; not hysteresis-adjusted); null for noData rules.
 */
export interface AlertEvent {
  readonly device: string;
  readonly sensor: string;
  readonly rule: string;
  readonly state: 'firing' | 'resolved';
  readonly severity: Severity;
  readonly value: number;
  readonly threshold: number | null;
  readonly ts: number;
  readonly since: number;
}

/** An alert that is firing now (GET /api/alerts). */
export interface FiringAlert {
  readonly rule: string;
  readonly kind: AlertRule['kind'];
  readonly device: string;
  readonly sensor: string;
  readonly severity: Severity;
  /** As AlertEvent.since of the firing event. */
  readonly since: number;
  /** As AlertEvent.ts of the firing event. */
  readonly firedAt: number;
  /** The last value received from the sensor. */
  readonly value: number;
  readonly threshold: number | null;
}

/**
 * One problem in a rules file or PUT body. `path` is like `rules[2].match.device`, or `(file)` for a problem
 * with the document as a whole (syntax, unreadable). line/column are 1-based, present when known.
 */
export interface RuleError {
  readonly path: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

export type RulesResult = { readonly ok: true; readonly rules: readonly AlertRule[] } | { readonly ok: false; readonly errors: readonly RuleError[] };

/** The firing event a firing alert stands for (its `since`, and `firedAt` as the event's ts). */
export function firingEventOf(f: FiringAlert): AlertEvent {
  return {
    device: f.device,
    sensor: f.sensor,
    rule: f.rule,
    state: 'firing',
    severity: f.severity,
    value: f.value,
    threshold: f.threshold,
    ts: f.firedAt,
    since: f.since,
  };
}

import { z } from 'zod';
import { duration } from '../config/zod-units.js';
import { ID_PATTERN } from '../wire/topics.js';
import { SEVERITIES, type AlertRule, type Severity } from './types.js';

/**
 * Schema of the rules file (config/thresholds.yaml). Unknown keys are errors; durations become ms; each rule
 * is normalised into a ThresholdRule or a NoDataRule. Cross-key checks (which keys go together) run only
 * when the rule's individual keys are valid, so one typo yields one error rather than a cascade.
 */

/** A rule's name is a level of its alert topic (alerts/{device}/{sensor}/{rule}): a wire contract id. */
export const RULE_NAME = ID_PATTERN;

const glob = z
  .string()
  .min(1, 'must not be empty (use "*" to match everything)')
  .max(256)
  .refine((s) => !s.includes('\u0000'), 'must not contain NUL');

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

const ruleSchema = z
  .strictObject({
    name: z.string().regex(RULE_NAME, `must match ${ID_PATTERN.source}`),
    match: z.strictObject({ device: glob.default('*'), sensor: glob.default('*') }).prefault({}),
    above: finite.optional(),
    below: finite.optional(),
    hysteresis: finite.min(0).optional(),
    for: duration(0).optional(),
    noData: duration(1).optional(),
    severity: z.enum(SEVERITIES as [Severity, ...Severity[]]).default('warning'),
  })
  .superRefine((r, ctx) => {
    const threshold = r.above !== undefined || r.below !== undefined;
    if (!threshold && r.noData === undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'a rule needs at least one of above, below or noData' });
    }
    if (threshold && r.noData !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['noData'],
        message: 'a rule is either a threshold rule (above/below) or a noData rule; split it into two rules',
      });
    }
    if (!threshold) {
      for (const key of ['hysteresis', 'for'] as const) {
        if (r[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} applies only to above/below` });
      }
    }
    if (r.above !== undefined && r.below !== undefined) {
      const h = r.hysteresis ?? 0;
      if (r.below + h > r.above - h) {
        ctx.addIssue({
          code: 'custom',
          path: ['below'],
          message:
            h > 0
              ? `below + hysteresis (${r.below + h}) must not exceed above - hysteresis (${r.above - h}), or the alert could never resolve`
              : `must not be greater than above (${r.above})`,
        });
      }
    }
  })
  .transform((r): AlertRule => {
    const base = { name: r.name, match: { device: r.match.device, sensor: r.match.sensor }, severity: r.severity };
    if (r.noData !== undefined) return { kind: 'noData', ...base, noDataMs: r.noData };
    return {
      kind: 'threshold',
      ...base,
      above: r.above ?? null,
      below: r.below ?? null,
      hysteresis: r.hysteresis ?? 0,
      forMs: r.for ?? 0,
    };
  });

/** The whole file. Duplicate names are checked separately (see rules-parse.ts) so they are reported always. */
export const rulesFileSchema = z.strictObject({ rules: z.array(ruleSchema) });

export type RulesFileInput = z.input<typeof rulesFileSchema>;

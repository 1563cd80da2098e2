import { compileGlob } from '../alerts/glob.js';
import { rulesFormatOf, validateRulesText } from '../alerts/rules-file.js';
import type { AlertRule, RuleError } from '../alerts/types.js';
import type { LiveView } from './live/live-view.js';
import type { AdminPlugin, AdminRejectReason } from './server.js';

/**
 * A dry run of a rules file against what the gateway holds of the recent past: `PUT /api/thresholds?dryRun=1`
 * with the same body as a save. Nothing is written, nothing changes; the answer says, per rule, how many times it
 * would have fired and on which sensors.
 *
 * What it is evaluated against: the live view's last window means of each sensor (live-view.ts, SPARK_WINDOWS of
 * `pipeline.interval` each: 5 minutes at the default 10 s), not the raw readings, which the gateway does not keep.
 * A threshold rule fires when a mean violates it for `for` (window starts), and resolves inside the hysteresis band,
 * as the engine does on readings; a noData rule "fires" on the sensors silent for longer than its `noData` now.
 * Short spikes that a window mean smooths away are not seen: the figure is a lower bound.
 */
export interface DryRunRule {
  readonly name: string;
  readonly fires: number;
  readonly sensors: readonly { device: string; sensor: string; fires: number }[];
}
export interface DryRunResult {
  readonly ok: true;
  readonly dryRun: true;
  /** Oldest window start evaluated (epoch ms); null with no windows. */
  readonly from: number | null;
  readonly fires: number;
  readonly rules: readonly DryRunRule[];
}

const SENSORS_LISTED = 20;

export function dryRun(rules: readonly AlertRule[], live: LiveView, now: number): DryRunResult {
  let from: number | null = null;
  let total = 0;
  const out = rules.map((rule) => {
    const dm = compileGlob(rule.match.device);
    const sm = compileGlob(rule.match.sensor);
    const hits: { device: string; sensor: string; fires: number }[] = [];
    live.forEach((rec) => {
      if (!dm(rec.device) || !sm(rec.sensor)) return;
      let fires = 0;
      if (rule.kind === 'noData') {
        if (Number.isFinite(rec.arrived) && now - rec.arrived > rule.noDataMs) fires = 1;
      } else {
        const windows = live.viewOf(rec, true).windows ?? [];
        if (windows.length > 0) from = Math.min(from ?? Infinity, windows[0]![0]);
        let firing = false;
        let pendingSince: number | null = null;
        for (const [start, mean] of windows) {
          const violates = (rule.above !== null && mean > rule.above) || (rule.below !== null && mean < rule.below);
          if (!firing) {
            if (!violates) pendingSince = null;
            else {
              pendingSince ??= start;
              if (start - pendingSince >= rule.forMs) {
                firing = true;
                fires++;
              }
            }
          } else {
            const inside = (rule.above === null || mean <= rule.above - rule.hysteresis) && (rule.below === null || mean >= rule.below + rule.hysteresis);
            if (inside) {
              firing = false;
              pendingSince = null;
            }
          }
        }
      }
      if (fires > 0) hits.push({ device: rec.device, sensor: rec.sensor, fires });
    });
    hits.sort((a, b) => b.fires - a.fires || (a.device === b.device ? (a.sensor < b.sensor ? -1 : 1) : a.device < b.device ? -1 : 1));
    const fires = hits.reduce((s, h) => s + h.fires, 0);
    total += fires;
    return { name: rule.name, fires, sensors: hits.slice(0, SENSORS_LISTED) };
  });
  return { ok: true, dryRun: true, from, fires: total, rules: out };
}

/**
 * Answers `PUT /api/thresholds?dryRun=1` before the save route runs (a preHandler: the body is parsed by the
 * thresholds API's own parsers), so the save route itself stays as it is.
 */
export function rulesDryRunApi(live: LiveView, now: () => number, rejected: (reason: AdminRejectReason) => void = () => {}): AdminPlugin {
  return async (app) => {
    app.addHook('preHandler', async (req, reply) => {
      if (req.method !== 'PUT' || req.url.split('?', 1)[0] !== '/api/thresholds') return;
      const flag = (req.query as Record<string, unknown>)['dryRun'];
      if (flag !== '1' && flag !== 'true') return;
      const type = req.headers['content-type'];
      const format = rulesFormatOf(type);
      if (format === undefined) {
        rejected('media_type');
        const errors: readonly RuleError[] = [
          { path: '(body)', message: `unsupported content type ${JSON.stringify(type)}; send application/yaml or application/json` },
        ];
        return reply.code(415).send({ errors });
      }
      const checked = validateRulesText(typeof req.body === 'string' ? req.body : '', format);
      if (!checked.ok) {
        rejected('invalid_body');
        const errors: readonly RuleError[] = checked.errors;
        return reply.code(400).send({ errors });
      }
      return reply.send(dryRun(checked.rules, live, now()));
    });
  };
}

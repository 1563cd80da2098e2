import type { AlertHistory } from '../alerts/alert-history.js';
import { queryAlertHistory, type InfluxTarget } from './alerts-influx-history.js';
import type { AlertService } from '../alerts/service.js';
import type { AlertSilencer } from '../alerts/silences.js';
import type { AdminPlugin, AdminRejectReason } from './server.js';

/**
 * The operator page's alerts view, server side:
 *   GET    /api/alerts/history?rule=<name>&limit=<n>   recent state changes, newest first (alert-history.ts)
 *   GET    /api/alerts/history/stored?rule=<name>&limit=<n>   the same from InfluxDB's `alerts` measurement (last
 *                                                     7 days; survives restarts); 502 with the reason when InfluxDB does not answer
 *   GET    /api/alerts/silences                        [{ rule, until }]
 *   PUT    /api/alerts/silences/<rule>  { "minutes": n }   silences a rule for n minutes (1 to 10080: a week)
 *   DELETE /api/alerts/silences/<rule>                 ends a silence now
 * What a silence does: alerts/silences.ts and docs/alerts.md.
 */
export const MAX_SILENCE_MINUTES = 7 * 24 * 60;

export function alertsViewApi(deps: {
  alerts: AlertService;
  history: AlertHistory;
  silencer: AlertSilencer;
  now: () => number;
  influx?: InfluxTarget;
  gatewayId?: string;
  rejected?: (reason: AdminRejectReason) => void;
}): AdminPlugin {
  const reject = deps.rejected ?? (() => {});
  return async (app) => {
    // Silences end on time even when no alert changes and nobody looks.
    const timer = setInterval(() => deps.silencer.sweep(deps.now()), 1000);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));

    app.get('/api/alerts/history', async (req) => {
      const q = req.query as Record<string, unknown>;
      const rule = typeof q['rule'] === 'string' && q['rule'] !== '' ? q['rule'] : undefined;
      const limit = Math.min(500, Math.max(1, Number.parseInt(String(q['limit'] ?? '50'), 10) || 50));
      return { entries: deps.history.recent(rule, limit) };
    });

    app.get('/api/alerts/history/stored', async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const rule = q['rule'];
      if (typeof rule !== 'string' || rule === '' || rule.length > 256)
        return (reject('history_bad_rule'), reply.code(400)).send({ error: 'rule: a rule name of 1 to 256 characters' });
      if (deps.influx === undefined || deps.gatewayId === undefined) return reply.code(404).send({ error: 'no InfluxDB configured' });
      const limit = Math.min(200, Math.max(1, Number.parseInt(String(q['limit'] ?? '20'), 10) || 20));
      try {
        return { entries: await queryAlertHistory(deps.influx, deps.gatewayId, rule, limit) };
      } catch (err) {
        return reply.code(502).send({ error: `InfluxDB: ${(err as Error).message}` });
      }
    });

    app.get('/api/alerts/silences', async () => ({ now: deps.now(), silences: deps.silencer.list(deps.now()) }));

    app.put('/api/alerts/silences/:rule', async (req, reply) => {
      const rule = (req.params as { rule: string }).rule;
      if (!deps.alerts.rules().some((r) => r.name === rule))
        return (reject('silence_unknown_rule'), reply.code(404)).send({ error: `no rule named ${JSON.stringify(rule)}` });
      const minutes = (req.body as { minutes?: unknown } | undefined)?.minutes;
      if (typeof minutes !== 'number' || !Number.isInteger(minutes) || minutes < 1 || minutes > MAX_SILENCE_MINUTES) {
        reject('silence_bad_minutes');
        return reply.code(400).send({ error: `minutes must be a whole number from 1 to ${MAX_SILENCE_MINUTES}` });
      }
      const until = deps.now() + minutes * 60_000;
      deps.silencer.silence(rule, until);
      return { rule, until };
    });

    app.delete('/api/alerts/silences/:rule', async (req, reply) => {
      const rule = (req.params as { rule: string }).rule;
      if (!deps.silencer.lift(rule, deps.now()))
        return (reject('silence_not_found'), reply.code(404)).send({ error: `${JSON.stringify(rule)} is not silenced` });
      return reply.code(204).send();
    });
  };
}

import type { RulesHistory } from '../alerts/rules-history.js';
import type { AlertService } from '../alerts/service.js';
import type { AdminPlugin, AdminRejectReason } from './server.js';
import { ifMatchTags } from './thresholds-api.js';

/**
 * Earlier versions of the rules file (alerts/rules-history.ts) over HTTP:
 *   GET  /api/thresholds/versions              newest first: [{ id, savedAt, etag, bytes }]
 *   GET  /api/thresholds/versions/:id          that version's text (application/yaml)
 *   POST /api/thresholds/versions/:id/restore  saves that text as the rules file: validated like a PUT, and
 *                                              refused (412) when If-Match names an older file than the current
 * A save through PUT /api/thresholds is recorded by the onResponse hook below; edits on disk are recorded when
 * the history is next asked for.
 */
export function rulesHistoryApi(alerts: AlertService, history: RulesHistory, rejected: (reason: AdminRejectReason) => void = () => {}): AdminPlugin {
  return async (app) => {
    await history.check();
    app.addHook('onResponse', async (req, reply) => {
      if (req.method === 'PUT' && req.url.split('?', 1)[0] === '/api/thresholds' && reply.statusCode === 200) await history.check();
    });
    app.get('/api/thresholds/versions', async () => {
      await history.check();
      return { versions: history.list() };
    });
    app.get('/api/thresholds/versions/:id', async (req, reply) => {
      const text = history.text((req.params as { id: string }).id);
      if (text === undefined) return (rejected('version_not_found'), reply.code(404).send({ error: 'no such version' }));
      return reply.type('application/yaml').send(text);
    });
    app.post('/api/thresholds/versions/:id/restore', async (req, reply) => {
      const text = history.text((req.params as { id: string }).id);
      if (text === undefined) return (rejected('version_not_found'), reply.code(404).send({ error: 'no such version' }));
      const ifMatch = req.headers['if-match'];
      const result = await alerts.replaceRules(text, 'yaml', ifMatchTags(Array.isArray(ifMatch) ? ifMatch[0] : ifMatch));
      if (result.kind === 'invalid') return reply.code(400).send({ errors: result.errors });
      if (result.kind === 'conflict')
        return reply
          .code(412)
          .send({ errors: [{ path: '(file)', message: 'the rules file was changed by another edit since you loaded it: reload, then restore again' }] });
      await history.check();
      reply.header('etag', result.etag);
      return { ok: true, ruleCount: result.ruleCount, etag: result.etag };
    });
  };
}

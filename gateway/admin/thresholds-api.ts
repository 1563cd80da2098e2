import type { FastifyError } from 'fastify';
import { rulesFormatOf } from '../alerts/rules-file.js';
import type { AlertService, ReplaceResult } from '../alerts/service.js';
import type { AdminPlugin, AdminRejectReason } from './server.js';

/** PUT refusals by status, for gateway_admin_rejected_total{reason}. */
const REFUSED: Readonly<Record<number, AdminRejectReason>> = { 400: 'invalid_body', 413: 'body_too_large', 415: 'media_type' };

/**
 * The ETags an If-Match header accepts, or undefined when it accepts any version (absent or `*`). A list is
 * allowed; the comparison is strong, so weak (W/) tags never match a current ETag (RFC 9110 13.1.1).
 */
export function ifMatchTags(header: string | undefined): string[] | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  return header.split(',').map((t) => t.trim());
}

/** The HTTP answer to each outcome of AlertService.replaceRules. */
function replaceStatus(r: ReplaceResult): 200 | 400 | 412 {
  return r.kind === 'replaced' ? 200 : r.kind === 'invalid' ? 400 : 412;
}

const CONFLICT = { path: '(file)', message: 'the rules file was changed by another edit since you loaded it: reload, then apply your change again' };

/**
 * Threshold rules over HTTP:
 *   GET  /api/thresholds  the running rules, the file's load status and ETag (?format=yaml: the file text)
 *   PUT  /api/thresholds  YAML or JSON body; validated (400 with every error and its path), refused when
 *                         If-Match names an older version (412), written atomically, then applied
 *   GET  /api/alerts      what is firing now
 * Bodies are bounded before and around the YAML parser: http.maxBodyBytes (413, before the body is read), then
 * the YAML limits (config/safe-yaml.ts: nesting depth, alias expansions; 400 naming the limit). Every refusal
 * has the same shape, `{errors: [{path, message}]}`, and is counted (gateway_admin_rejected_total{reason}).
 */
export function thresholdsApi(alerts: AlertService): AdminPlugin {
  // An encapsulated context (app.register): the raw-string body parsers below, JSON included, then apply
  // to these routes only, and other admin plugins keep fastify's JSON parser.
  return async (app) => {
    await app.register(async (scope) => {
      // Bodies are validated by AlertService.replaceRules, which needs the raw text (YAML keeps comments; errors get lines).
      scope.addContentTypeParser(
        ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain', 'application/json'],
        { parseAs: 'string' },
        (_req, body, done) => done(null, body),
      );
      // Refusals fastify makes itself (body too large, a content type without a parser, a bad encoding) get the
      // API's error shape; anything else is a server error as usual.
      scope.setErrorHandler((err: FastifyError, _req, reply) => {
        const status = err.statusCode ?? 500;
        if (status < 400 || status >= 500) return reply.send(err);
        const message =
          err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
            ? `the body is larger than http.maxBodyBytes (${scope.initialConfig.bodyLimit} bytes)`
            : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
              ? 'unsupported content type; send application/yaml or application/json'
              : err.message;
        return reply.code(status).send({ errors: [{ path: '(body)', message }] });
      });
      scope.addHook('onResponse', async (req, reply) => {
        const reason = req.method === 'PUT' ? REFUSED[reply.statusCode] : undefined;
        if (reason) scope.rejected(reason);
      });

      scope.get('/api/thresholds', async (req, reply) => {
        const file = alerts.fileText();
        if (file) reply.header('etag', file.etag);
        if ((req.query as Record<string, unknown>)['format'] === 'yaml') {
          if (!file) return reply.code(404).send({ error: 'rules file not found' });
          return reply.type('application/yaml').send(file.text);
        }
        return { rules: alerts.rules(), status: alerts.status(), etag: file?.etag ?? null };
      });

      scope.put('/api/thresholds', async (req, reply) => {
        const body = typeof req.body === 'string' ? req.body : '';
        const type = req.headers['content-type'];
        const format = rulesFormatOf(type);
        if (format === undefined) {
          const message = `unsupported content type ${JSON.stringify(type)}; send application/yaml or application/json`;
          return reply.code(415).send({ errors: [{ path: '(body)', message }] });
        }
        const ifMatch = req.headers['if-match'];
        const result = await alerts.replaceRules(body, format, ifMatchTags(Array.isArray(ifMatch) ? ifMatch[0] : ifMatch));
        reply.code(replaceStatus(result));
        if (result.kind === 'invalid') return { errors: result.errors };
        if (result.kind === 'conflict') return { errors: [CONFLICT] };
        reply.header('etag', result.etag);
        return { ok: true, ruleCount: result.ruleCount, etag: result.etag };
      });

      scope.get('/api/alerts', async () => ({ firing: alerts.firing() }));
    });
  };
}

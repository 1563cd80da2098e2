import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildAdmin } from '../../../gateway/admin/server.js';
import { ifMatchTags, thresholdsApi } from '../../../gateway/admin/thresholds-api.js';
import { rulesETag } from '../../../gateway/alerts/rules-file.js';
import { AlertService } from '../../../gateway/alerts/service.js';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import { manualClock } from '../../support/manual-timers.js';

/**
 * The admin routes without a socket (fastify's inject): how the thresholds API maps AlertService's outcomes and
 * the HTTP headers (Content-Type, If-Match) to status codes, and /health and /metrics of the admin server.
 */
const RULES = 'rules:\n  - { name: hot, above: 30 }\n';

describe('admin routes (inject)', () => {
  let dir: string;
  let file: string;
  let alerts: AlertService;
  let app: FastifyInstance;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'admin-inject-'));
    file = join(dir, 'thresholds.yaml');
    writeFileSync(file, RULES);
    const metrics = createMetrics();
    const log = createLogger('silent');
    alerts = new AlertService({ rulesFile: file, log, metrics, now: manualClock(0).now, publish: () => {} });
    alerts.start();
    app = await buildAdmin({ log, registry: metrics.registry, health: () => ({ status: 'ok', gatewayId: 'g' }) }, [thresholdsApi(alerts)]);
  });
  afterEach(async () => {
    await app.close();
    alerts.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const put = (body: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'PUT', url: '/api/thresholds', payload: body, headers: { 'content-type': 'application/yaml', ...headers } });

  it('GET /api/thresholds: the running rules and the ETag, or the file text with ?format=yaml', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/thresholds' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['etag']).toBe(rulesETag(RULES));
    expect(res.json()).toMatchObject({ rules: [{ name: 'hot', above: 30 }], etag: rulesETag(RULES) });
    const yaml = await app.inject({ method: 'GET', url: '/api/thresholds?format=yaml' });
    expect(yaml.headers['content-type']).toMatch(/^application\/yaml/);
    expect(yaml.body).toBe(RULES);
  });

  it('PUT replaced: 200 with the new ETag, the file written and the rules applied', async () => {
    const next = 'rules:\n  - { name: cold, below: 5 }\n';
    const res = await put(next, { 'if-match': rulesETag(RULES) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['etag']).toBe(rulesETag(next));
    expect(res.json()).toEqual({ ok: true, ruleCount: 1, etag: rulesETag(next) });
    expect(readFileSync(file, 'utf8')).toBe(next);
    expect(alerts.rules().map((r) => r.name)).toEqual(['cold']);
  });

  it('PUT invalid: 400 with every error; nothing written', async () => {
    const res = await put('rules:\n  - { name: x, abov: 1 }\n');
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'rules[0].abov', message: 'unknown key' })]));
    expect(readFileSync(file, 'utf8')).toBe(RULES);
  });

  it('PUT conflict: 412 for a stale or weak If-Match; any version with * or without the header', async () => {
    expect((await put('rules: []\n', { 'if-match': '"stale"' })).statusCode).toBe(412);
    expect((await put('rules: []\n', { 'if-match': `W/${rulesETag(RULES)}` })).statusCode).toBe(412);
    expect(readFileSync(file, 'utf8')).toBe(RULES);
    expect((await put('rules: []\n', { 'if-match': `"other", ${rulesETag(RULES)}` })).statusCode).toBe(200);
    expect((await put('rules: [{ name: a, above: 1 }]\n', { 'if-match': '*' })).statusCode).toBe(200);
    expect((await put('rules: []\n')).statusCode).toBe(200);
  });

  it('PUT of another media type: 415, and JSON bodies are accepted', async () => {
    const html = await put('rules: []', { 'content-type': 'text/html' });
    expect(html.statusCode).toBe(415);
    // Refused by fastify's body parsing, answered in the API's error shape.
    expect(html.json()).toEqual({ errors: [{ path: '(body)', message: 'unsupported content type; send application/yaml or application/json' }] });
    expect((await put('{"rules":[]}', { 'content-type': 'application/json' })).statusCode).toBe(200);
  });

  it('GET /api/alerts lists what fires; /health and /metrics answer', async () => {
    alerts.onReading({ device: 'd', sensor: 't', ts: 1, value: 31 });
    expect((await app.inject({ method: 'GET', url: '/api/alerts' })).json()).toMatchObject({ firing: [{ rule: 'hot', device: 'd', sensor: 't' }] });
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok', gatewayId: 'g' });
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toContain('gateway_alerts_fired_total{rule="hot",severity="warning"} 1');
  });

  it('ifMatchTags: absent or * accepts any version; otherwise the listed tags', () => {
    expect(ifMatchTags(undefined)).toBeUndefined();
    expect(ifMatchTags(' * ')).toBeUndefined();
    expect(ifMatchTags('"a", W/"b"')).toEqual(['"a"', 'W/"b"']);
  });
});

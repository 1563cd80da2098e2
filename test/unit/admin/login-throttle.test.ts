import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildAdmin, type AdminRejectReason } from '../../../gateway/admin/server.js';
import { adminAuth, LOGIN_THROTTLE } from '../../../gateway/admin/web/auth.js';
import { FailureThrottle } from '../../../gateway/auth/throttle.js';
import { createLogger } from '../../../gateway/log.js';

const TOKEN = 'login-throttle-token-0123456789';

describe('POST /login: per-address limiter', () => {
  let app: FastifyInstance;
  let t = 1_000_000;
  const rejected: AdminRejectReason[] = [];

  beforeAll(async () => {
    app = await buildAdmin(
      { log: createLogger('silent'), registry: new Registry(), health: () => ({ status: 'ok' }), onRejected: (r) => void rejected.push(r) },
      [adminAuth({ token: TOKEN, loginPage: '<form><!--ERROR--></form>', now: () => t, throttle: new FailureThrottle(LOGIN_THROTTLE) })],
    );
  });
  afterAll(async () => app?.close());

  const login = (token: string, remoteAddress = '10.0.0.7') =>
    app.inject({
      method: 'POST',
      url: '/login',
      remoteAddress,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token }).toString(),
    });

  it('lets a few mistakes through, then answers 429 with Retry-After until the backoff has passed, even for the right token', async () => {
    for (let i = 0; i < LOGIN_THROTTLE.freeFailures; i++) expect((await login('wrong')).headers.location).toBe('/login?failed');
    expect((await login('wrong')).statusCode).toBe(303); // the 6th wrong token is heard, and starts the backoff
    const refused = await login(TOKEN);
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect(refused.body).toContain('Too many wrong tokens');
    expect(rejected).toEqual(['login_throttled']);
    // Another address is not affected.
    expect((await login(TOKEN, '10.0.0.8')).headers['set-cookie']).toContain('gw_session=');
    t += 1000;
    expect((await login('wrong')).statusCode).toBe(303);
    expect((await login('wrong')).headers['retry-after']).toBe('2');
    t += 2000;
    const ok = await login(TOKEN);
    expect(ok.statusCode).toBe(303);
    expect(ok.headers['set-cookie']).toContain('gw_session=');
    // Success forgets the address: mistakes are free again.
    expect((await login('wrong')).statusCode).toBe(303);
    expect((await login('wrong')).statusCode).toBe(303);
  });

  it('bounds a guessing run: of 300 guesses in a row only the free ones and one more are heard', async () => {
    let heard = 0;
    for (let i = 0; i < 300; i++) if ((await login(`guess-${i}`, '10.0.0.9')).statusCode !== 429) heard++;
    expect(heard).toBe(LOGIN_THROTTLE.freeFailures + 1);
  });
});

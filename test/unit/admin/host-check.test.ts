import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { hostChecker, hostName } from '../../../gateway/admin/host-check.js';
import { buildAdmin, type AdminRejectReason } from '../../../gateway/admin/server.js';
import { createLogger } from '../../../gateway/log.js';

describe('hostName', () => {
  it('takes the name out of a Host header: port, brackets and a trailing dot removed, lower-cased', () => {
    expect(hostName('LocalHost:8080')).toBe('localhost');
    expect(hostName('[::1]:8080')).toBe('::1');
    expect(hostName('gw.example.com.')).toBe('gw.example.com');
    expect(hostName('127.0.0.1')).toBe('127.0.0.1');
    for (const bad of ['', 'a b', 'x:y:z', 'user@host', '[zz]']) expect(hostName(bad), bad).toBeUndefined();
  });

  it('accepts loopback names, IP literals, the bound name and the allowed names only', () => {
    const ok = hostChecker({ bindHost: 'gw.lan', allowedHosts: ['Gateway.Example.com'] });
    for (const n of ['localhost', 'app.localhost', '127.0.0.1', '::1', '10.1.2.3', 'gw.lan', 'gateway.example.com']) expect(ok(n), n).toBe(true);
    for (const n of ['evil.example', 'localhost.evil.example', 'example.com', 'gw.lan.evil']) expect(ok(n), n).toBe(false);
  });
});

describe('admin server: Host and Origin checks (DNS rebinding)', () => {
  let app: FastifyInstance;
  const rejected: AdminRejectReason[] = [];

  beforeAll(async () => {
    app = await buildAdmin(
      {
        log: createLogger('silent'),
        registry: new Registry(),
        health: () => ({ status: 'ok' }),
        bindHost: '127.0.0.1',
        allowedHosts: ['gw.example.com'],
        onRejected: (r) => void rejected.push(r),
      },
      [
        (a) => {
          a.get('/api/live', async () => ({ secret: 'sensors' }));
          a.put('/api/thresholds', async () => ({ ok: true }));
        },
      ],
    );
  });
  afterAll(async () => app?.close());

  it('answers loopback names and allowed names, and refuses a rebound name with 421 before any route runs', async () => {
    for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', 'gw.example.com', 'GW.EXAMPLE.COM:8080']) {
      const res = await app.inject({ method: 'GET', url: '/api/live', headers: { host } });
      expect(res.statusCode, host).toBe(200);
    }
    rejected.length = 0;
    for (const host of ['evil.example:8080', 'evil.example', 'localhost.evil.example']) {
      const live = await app.inject({ method: 'GET', url: '/api/live', headers: { host } });
      expect(live.statusCode, host).toBe(421);
      expect(live.body).not.toContain('sensors');
      expect(live.json().message).toContain('http.allowedHosts');
      const put = await app.inject({ method: 'PUT', url: '/api/thresholds', headers: { host }, payload: 'rules: []' });
      expect(put.statusCode).toBe(421);
    }
    expect(rejected).toEqual(Array(6).fill('host'));
  });

  it('refuses writes whose Origin is another site; no Origin, the own origin, localhost and allowed names pass', async () => {
    rejected.length = 0;
    const put = (origin?: string, host = '127.0.0.1:8080') =>
      app.inject({ method: 'PUT', url: '/api/thresholds', headers: { host, 'content-type': 'text/plain', ...(origin ? { origin } : {}) }, payload: 'x' });
    expect((await put()).statusCode).toBe(200);
    expect((await put('http://127.0.0.1:8080')).statusCode).toBe(200);
    expect((await put('http://localhost:3000')).statusCode).toBe(200);
    expect((await put('https://gw.example.com')).statusCode).toBe(200);
    expect((await put('http://10.0.0.5:8080', '10.0.0.5:8080')).statusCode).toBe(200);
    for (const origin of ['http://evil.example', 'null', 'http://10.0.0.9:8080', 'file://', 'http://127.0.0.1.evil.example']) {
      const res = await put(origin);
      expect(res.statusCode, origin).toBe(403);
      expect(res.json().error).toBe('origin not allowed');
    }
    // Reads are not checked for Origin (the Host check covers them).
    expect((await app.inject({ method: 'GET', url: '/api/live', headers: { host: 'localhost', origin: 'http://evil.example' } })).statusCode).toBe(200);
    expect(rejected).toEqual(Array(5).fill('origin'));
  });
});

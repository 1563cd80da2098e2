import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import type { AlertService } from '../../../gateway/alerts/service.js';
import type { BrokerFront } from '../../../gateway/broker/front.js';
import type { GatewayBase } from '../../../gateway/compose/base.js';
import { composeGateway, type RootParts } from '../../../gateway/compose/lifecycle.js';
import type { GatewayOutputs } from '../../../gateway/compose/outputs.js';
import { validateConfig } from '../../../gateway/config/load.js';
import type { HealthReport } from '../../../gateway/admin/server.js';
import { createLogger } from '../../../gateway/log.js';
import type { MovedAside } from '../../../gateway/persist/sqlite.js';
import type { OutboxStatus } from '../../../gateway/outbox/outbox.js';

const STATUS: OutboxStatus = {
  points: 0,
  bytes: 0,
  batches: 0,
  oldestAgeMs: 0,
  openPoints: 0,
  draining: false,
  influxUp: true,
  deadLetters: 0,
  lastError: undefined,
};

/**
 * composeGateway with every part a fake that writes its step to `steps`: the start/stop sequence both composition
 * roots share (app.ts, cluster/gateway.ts), with the root's steps where its hooks put them.
 */
function setup(opts: { rootHealthy?: boolean; influxUp?: boolean; movedAside?: MovedAside[] } = {}) {
  const steps: string[] = [];
  const step = (name: string) => () => void steps.push(name);
  const asyncStep = (name: string) => async () => void steps.push(name);
  const config = validateConfig({ gatewayId: 'gw-1', http: { host: '127.0.0.1', port: 0 }, pipeline: { tick: '1h' } }, 'test');
  const base = {
    config,
    log: createLogger('silent'),
    now: () => 61_000,
    startedAt: 1_000,
    metrics: {},
    devices: { close: step('devices.close'), registry: { size: 3 }, fileErrors: () => [] },
    dataDir: { release: step('dataDir.release') },
    movedAside: opts.movedAside ?? [],
  } as unknown as GatewayBase;
  const out = {
    outbox: { start: step('outbox.start'), close: asyncStep('outbox.close'), status: () => ({ ...STATUS, influxUp: opts.influxUp ?? true }) },
    stats: { start: step('stats.start'), stop: asyncStep('stats.stop') },
  } as unknown as GatewayOutputs;
  const broker = {
    listen: async () => (steps.push('broker.listen'), { mqtt: 1883, ws: 8083, tls: undefined }),
    close: asyncStep('broker.close'),
    connectedClients: 2,
  } as unknown as BrokerFront;
  let health: (() => HealthReport) | undefined;
  const admin = {
    listen: asyncStep('admin.listen'),
    server: { address: () => ({ port: 8080 }) },
    close: asyncStep('admin.close'),
  } as unknown as FastifyInstance;
  const root: RootParts = {
    broker,
    alerts: { close: step('alerts.close') } as unknown as AlertService,
    health: () => ({ healthy: opts.rootHealthy ?? true, sections: { mine: { x: 1 } } }),
    buildAdmin: async (h) => {
      steps.push('buildAdmin');
      health = h;
      return admin;
    },
    announce: { msg: 'admin HTTP listening' },
    tick: step('tick'),
    beforeListen: step('root.beforeListen'),
    afterListen: step('root.afterListen'),
    beforeBrokerClose: asyncStep('root.beforeBrokerClose'),
    afterBrokerClose: step('root.afterBrokerClose'),
    afterOutboxClose: asyncStep('root.afterOutboxClose'),
  };
  const gateway = composeGateway(base, out, root);
  return { gateway, steps, admin, health: () => health!() };
}

describe('composeGateway (the start/stop sequence of both composition roots)', () => {
  it('starts the outbox and stats, listens for MQTT, then builds and opens the admin app, then the root', async () => {
    const { gateway, steps, admin } = setup();
    expect(() => gateway.admin).toThrow(/built by start/);
    await gateway.start();
    expect(steps).toEqual(['outbox.start', 'stats.start', 'root.beforeListen', 'broker.listen', 'buildAdmin', 'admin.listen', 'root.afterListen']);
    expect(gateway.ports).toEqual({ mqtt: 1883, ws: 8083, tls: undefined, http: 8080 });
    expect(gateway.admin).toBe(admin);
    await gateway.stop();
  });

  it('stops once: MQTT closed before the root saves its state, the folder released after the outbox, the admin app last', async () => {
    const { gateway, steps } = setup();
    await gateway.start();
    steps.length = 0;
    await gateway.stop();
    await gateway.stop();
    expect(steps).toEqual([
      'root.beforeBrokerClose',
      'broker.close',
      'root.afterBrokerClose',
      'stats.stop',
      'alerts.close',
      'devices.close',
      'outbox.close',
      'root.afterOutboxClose',
      'dataDir.release',
      'admin.close',
    ]);
  });

  it('reports the common /health parts around the root sections; degraded when the root, InfluxDB or a moved file says so', async () => {
    const ok = setup();
    await ok.gateway.start();
    expect(ok.health()).toMatchObject({
      status: 'ok',
      gatewayId: 'gw-1',
      uptimeSeconds: 60,
      broker: { listening: true, clients: 2 },
      influx: { up: true, lastError: null },
      outbox: { points: 0, draining: false },
      mine: { x: 1 },
      devices: { registered: 3, errors: [] },
      storage: { movedAside: [] },
    });
    await ok.gateway.stop();
    const moved: MovedAside = { database: 'outbox', file: '/d/outbox.db', movedTo: '/d/outbox.db.corrupt', reason: 'corrupt', detail: 'bad', at: 0 };
    for (const o of [{ rootHealthy: false }, { influxUp: false }, { movedAside: [moved] }]) {
      const s = setup(o);
      await s.gateway.start();
      expect(s.health().status, JSON.stringify(o)).toBe('degraded');
      await s.gateway.stop();
    }
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { buildGateway, type Gateway } from '../../gateway/app.js';
import { validateConfig } from '../../gateway/config/load.js';
import { createLogger } from '../../gateway/log.js';
import { testConfigTree } from '../support/gateway.js';

/**
 * Start-up order (BENCHMARKS.md, start-up): the MQTT listeners come first; the admin app (fastify and its
 * routes) is built by start() only after them, so it is not on the way to a device's first CONNACK.
 */
describe('gateway start-up order', () => {
  let dir = '';
  let gw: Gateway | undefined;
  afterEach(async () => {
    await gw?.stop();
    gw = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  for (const brokerThread of ['on', 'off'] as const) {
    it(`builds the admin app after MQTT listens, and a device connects (mqtt.brokerThread ${brokerThread})`, async () => {
      dir = mkdtempSync(join(tmpdir(), 'gw-startup-'));
      // InfluxDB is never reached in this test: the outbox just keeps its points.
      const config = validateConfig(testConfigTree(dir, 'http://127.0.0.1:9', { mqtt: { brokerThread } }), 'test');
      writeFileSync(config.alerts.rulesFile, 'rules: []\n');
      let mqttPortWhenAdminBuilt: number | undefined;
      // The plugin runs when the admin app is built: `built` is assigned by then unless buildGateway builds it.
      let building = true;
      const built: Gateway = await buildGateway(config, {
        log: createLogger('silent'),
        adminPlugins: [() => void (mqttPortWhenAdminBuilt = building ? undefined : built.ports.mqtt)],
      });
      building = false;
      gw = built;
      expect(mqttPortWhenAdminBuilt).toBeUndefined(); // not built by buildGateway (nor with the port unknown)
      expect(() => built.admin).toThrow(/start\(\)/);
      await built.start();
      expect(mqttPortWhenAdminBuilt).toBe(built.ports.mqtt);
      expect(built.ports.mqtt).toBeGreaterThan(0);
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${built.ports.mqtt}`, { clientId: 'startup-order', reconnectPeriod: 0 });
      await client.endAsync();
      expect((await built.admin.inject({ method: 'GET', url: '/health' })).statusCode).toBeLessThan(500);
    });
  }
});

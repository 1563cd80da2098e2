import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../gateway/pipeline/types.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { connect, publish } from '../support/mqtt.js';
import { storedWindows } from '../support/telemetry.js';
import { referenceWindows } from '../support/reference.js';

/**
 * Issue 3, store-and-forward across graceful restarts: InfluxDB is down while devices publish; the gateway is
 * restarted twice during the outage (once with windows still open, which only the checkpoint in state.db can
 * carry over); then InfluxDB comes back and every window arrives, exact, none counted twice.
 */
describe('outage with graceful restarts', () => {
  let influx: InfluxServer;
  let tg: TestGateway | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    influx = await startInfluxd();
  });
  afterAll(async () => {
    await tg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await influx?.dispose();
  });

  it('every window arrives exactly once the outage ends', async () => {
    await influx.stop();
    const overrides = { gatewayId: 'restart-gw', durability: { checkpointInterval: '200ms' } };
    tg = await startTestGateway({ influxUrl: influx.url, overrides });
    dir = tg.dir;
    const readings: Reading[] = [];
    const send = async (url: string, from: number, count: number, base: number) => {
      const c = await connect(url, { clientId: 'outage-dev' });
      for (let i = from; i < from + count; i++) {
        const ts = base + i * 100;
        const r = { temp: Math.round(Math.sin(i) * 1e6) / 1e3, hum: (i % 17) + 0.125 };
        readings.push({ device: 'outage-dev', sensor: 'temp', ts, value: r.temp }, { device: 'outage-dev', sensor: 'hum', ts, value: r.hum });
        await publish(c, 'devices/outage-dev/telemetry', JSON.stringify({ ts, seq: i, readings: r }));
        if (i % 10 === 3) await publish(c, 'devices/outage-dev/telemetry', JSON.stringify({ ts, seq: i, readings: r })); // a repeat: dedup
      }
      await c.endAsync();
    };

    // Phase 1: past windows, closed and emitted into the outbox while InfluxDB is down.
    const past = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    await send(tg.mqttUrl, 0, 50, past);
    await waitFor('phase 1 windows emitted', () => (tg!.gw.outbox.status().points + tg!.gw.outbox.status().openPoints >= 10 ? true : undefined));

    // Phase 2: windows a few seconds ahead, still open when the gateway stops: the checkpoint carries them.
    const ahead = Math.floor((Date.now() + 4_000) / 1000) * 1000;
    await send(tg.mqttUrl, 0, 20, ahead);
    expect(tg.gw.outbox.status().influxUp).toBe(false);
    await tg.stop();
    tg = await startTestGateway({ influxUrl: influx.url, overrides, dir });
    const restored = tg.logLines().find((l) => l['msg'] === 'pipeline state restored from the last checkpoint');
    expect(restored?.['openWindows']).toBeGreaterThan(0);

    // Restart again once those windows closed (still during the outage): they wait in the outbox.
    await waitFor(
      'phase 2 windows closed by the idle tick',
      async () => {
        const health = (await (await fetch(`${tg!.httpUrl}/health`)).json()) as { pipeline: { openWindows: number } };
        return health.pipeline.openWindows === 0 ? true : undefined;
      },
      15_000,
    );
    await tg.stop();
    tg = await startTestGateway({ influxUrl: influx.url, overrides, dir });

    await influx.start();
    const expected = referenceWindows(readings, 1000);
    const stored = await waitFor(
      'every window in InfluxDB',
      async () => {
        const s = await storedWindows(influx, 'restart-gw');
        return s.size >= expected.size && tg!.gw.outbox.status().points === 0 ? s : undefined;
      },
      30_000,
    );
    expect(stored.size).toBe(expected.size);
    for (const [key, ref] of expected) {
      const got = stored.get(key)!;
      expect(got, key).toBeDefined();
      // count == reference count: no reading counted twice across the restarts (nor the repeats).
      expect({ mean: got.mean, min: got.min, max: got.max, first: got.first, last: got.last, count: got.count }, key).toEqual(ref);
    }
  });
});

import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/app.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect, publish } from '../support/mqtt.js';
import { storedWindows } from '../support/telemetry.js';
import { alertSubscriber } from './alerts-helpers.js';

/**
 * Faults around a real gateway: InfluxDB answering slowly, the outbox's disk full, the gateway clock jumping.
 * Each has a defined outcome: retried and counted, dropped and counted and logged, or simply no misbehaviour
 * (no crash, no negative ages, windows still exact where the data allows).
 */

const RULES = `rules:
  - name: hot
    match: { device: "f-*", sensor: temperature }
    above: 30
  - name: silent
    match: { device: "f-*", sensor: heartbeat }
    noData: 1s
`;

/** The outbox's SQLite connection. Test-only reach into privates: PRAGMA max_page_count is per connection. */
function outboxDb(gw: Gateway): Database.Database {
  return (gw.outbox as unknown as { o: { store: { db: Database.Database } } }).o.store.db;
}

/** An HTTP proxy in front of InfluxDB that holds the first `slowWrites` /write requests for `holdMs` before passing them on. */
async function slowProxy(target: string, slowWrites: number, holdMs: number): Promise<{ url: string; held: () => number; close(): Promise<void> }> {
  const to = new URL(target);
  let held = 0;
  const server: Server = createServer((req, res) => {
    const slow = req.url?.startsWith('/write') === true && held < slowWrites;
    if (slow) held++;
    const forward = () => {
      const up = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (slow) setTimeout(forward, holdMs);
    else forward();
    res.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('robustness: faults', () => {
  let influx: InfluxServer;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    influx = await startInfluxd();
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync();
    await influx?.dispose();
  });

  it('InfluxDB answering slowly: requests time out per influx.timeout, are retried, and the event loop stays free', async () => {
    const proxy = await slowProxy(influx.url, 2, 1000);
    const tg = await startTestGateway({ influxUrl: proxy.url, overrides: { gatewayId: 'slow-gw', influx: { timeout: '300ms' } } });
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    try {
      const dev = await connect(tg.mqttUrl, { clientId: 'f-slow' });
      clients.push(dev);
      const base = Math.floor((Date.now() - 30_000) / 1000) * 1000;
      for (let i = 0; i < 40; i++) await publish(dev, 'devices/f-slow/telemetry', JSON.stringify({ ts: base + i * 250, readings: { t: i } }));
      const stored = await waitFor(
        'all 10 windows in InfluxDB',
        async () => {
          const s = await storedWindows(influx, 'slow-gw');
          return s.size === 10 && tg.gw.outbox.status().points === 0 ? s : undefined;
        },
        40_000,
      );
      expect([...stored.values()].map((w) => w.count)).toEqual(Array(10).fill(4));
      expect(proxy.held()).toBe(2);
      expect(await metricValue(tg.gw, 'outboxRetried')).toBeGreaterThan(0);
      expect(tg.logLines().some((l) => l.msg === 'InfluxDB write failed, will retry' && /timed out|timeout/i.test(String(l.err)))).toBe(true);
    } finally {
      delay.disable();
      await tg.dispose();
      await proxy.close();
    }
    // Liveness, not a benchmark: waiting on a slow InfluxDB must never hold the event loop.
    expect(delay.percentile(99) / 1e6).toBeLessThan(200);
  });

  it('outbox disk full: the gateway keeps accepting and alerting; the loss is counted and logged, and writing resumes', async () => {
    const tg = await startTestGateway({ influxUrl: influx.url, rules: RULES, overrides: { gatewayId: 'full-gw' } });
    try {
      const alerts = await alertSubscriber(tg.mqttUrl, 'full-watch');
      clients.push(alerts.client);
      const dev = await connect(tg.mqttUrl, { clientId: 'f-full' });
      clients.push(dev);
      const db = outboxDb(tg.gw);
      // The disk is full: no page may be added, and the free space in the existing ones is taken.
      db.exec('CREATE TABLE filler (x BLOB)');
      const pages = db.pragma('page_count', { simple: true }) as number;
      db.pragma(`max_page_count = ${pages}`);
      const fill = db.prepare('INSERT INTO filler VALUES (randomblob(?))');
      for (const size of [1024, 64, 1]) {
        try {
          for (;;) fill.run(size);
        } catch (err) {
          expect((err as { code?: string }).code).toBe('SQLITE_FULL');
        }
      }

      // The outbox grows only while InfluxDB is away; then the table's last page fills and the next commit fails.
      await influx.stop();
      // While full: 20 s of readings in 5 sensors (100 windows), one of them too hot.
      const base = Math.floor((Date.now() - 60_000) / 1000) * 1000;
      for (let i = 0; i < 80; i++) {
        const v = i === 40 ? 35 : 20 + (i % 5);
        await publish(dev, 'devices/f-full/telemetry', JSON.stringify({ ts: base + i * 250, readings: { temperature: v, a: i, b: i, c: i, d: i } }));
      }
      await alerts.next('the hot alert over MQTT', (r) => r.msg.rule === 'hot' && r.msg.state === 'firing');
      expect(await metricValue(tg.gw, 'readingsAccepted')).toBe(400);
      const dropped = await waitFor('dropped points counted', async () => {
        const d = await metricValue(tg.gw, 'outboxDropped');
        return d > 0 ? d : undefined;
      });
      expect(
        tg
          .logLines()
          .some(
            (l) =>
              l.msg === 'could not commit a batch to the outbox: points dropped' && String((l.err as { code?: string })?.code ?? l.err).includes('SQLITE_FULL'),
          ),
      ).toBe(true);

      // Space again: later windows reach InfluxDB; the dropped ones stay missing, and no more than were counted.
      db.pragma('max_page_count = 1073741823');
      await influx.start();
      const base2 = base + 40_000;
      for (let i = 0; i < 8; i++) await publish(dev, 'devices/f-full/telemetry', JSON.stringify({ ts: base2 + i * 250, readings: { temperature: 21 } }));
      const stored = await waitFor('later windows in InfluxDB', async () => {
        const s = await storedWindows(influx, 'full-gw');
        return s.has(`f-full|temperature|${base2}`) && s.has(`f-full|temperature|${base2 + 1000}`) ? s : undefined;
      });
      const missing = 100 - [...stored.keys()].filter((k) => Number(k.split('|')[2]) < base2).length;
      expect(missing).toBeGreaterThan(0);
      expect(missing).toBeLessThanOrEqual(dropped);
    } finally {
      await tg.dispose();
    }
  });

  it('the gateway clock jumping backwards and forwards: no crash, no negative ages, noData still fires, windows exact', async () => {
    let offset = 0;
    const now = () => Date.now() + offset;
    const tg = await startTestGateway({ influxUrl: influx.url, rules: RULES, overrides: { gatewayId: 'clock-gw' }, deps: { now } });
    try {
      const alerts = await alertSubscriber(tg.mqttUrl, 'clock-watch');
      clients.push(alerts.client);
      const dev = await connect(tg.mqttUrl, { clientId: 'f-clock' });
      clients.push(dev);
      const base = Math.floor((Date.now() - 20_000) / 1000) * 1000;
      const send = (i: number) => publish(dev, 'devices/f-clock/telemetry', JSON.stringify({ ts: base + i * 250, readings: { temperature: i } }));
      const health = async () => (await (await fetch(`${tg.httpUrl}/health`)).json()) as { uptimeSeconds: number; outbox: { oldestAgeSeconds: number } };

      for (let i = 0; i < 8; i++) await send(i);
      await publish(dev, 'devices/f-clock/sensors/heartbeat', '1');

      // One hour back. Device-stamped readings still land in their windows (event time), and noData measures
      // silence from the jump instead of waiting an hour for the clock to catch up.
      offset = -3_600_000;
      for (let i = 8; i < 16; i++) await send(i);
      const silent = await alerts.next('noData after the backward jump', (r) => r.msg.rule === 'silent' && r.msg.state === 'firing');
      expect(silent.msg.ts - silent.msg.since).toBeGreaterThanOrEqual(0);
      const h = await health();
      expect(h.uptimeSeconds).toBeGreaterThanOrEqual(0);
      expect(h.outbox.oldestAgeSeconds).toBeGreaterThanOrEqual(0);
      // A gateway-stamped reading is now an hour older than the sensor's last one: late, counted, not a crash.
      const lateBefore = await metricValue(tg.gw, 'readingsLate');
      await publish(dev, 'devices/f-clock/sensors/heartbeat', '2');
      await waitFor('the stale-stamped reading counted late', async () => ((await metricValue(tg.gw, 'readingsLate')) === lateBefore + 1 ? true : undefined));

      // One hour forward: the idle close emits the open windows at once; a late reading is a correction.
      offset = 3_600_000;
      for (let i = 16; i < 24; i++) await send(i);
      await send(100 - 99 + 24); // ts base + 25*250: window 6
      const expected = new Map<number, number[]>();
      for (const i of [...Array(24).keys(), 25]) {
        const start = Math.floor((base + i * 250) / 1000) * 1000;
        expected.set(start, [...(expected.get(start) ?? []), i]);
      }
      const stored = await waitFor('every window exact in InfluxDB', async () => {
        const s = await storedWindows(influx, 'clock-gw');
        const ok = [...expected].every(([start, vs]) => s.get(`f-clock|temperature|${start}`)?.count === vs.length);
        return ok ? s : undefined;
      });
      for (const [start, vs] of expected) {
        const w = stored.get(`f-clock|temperature|${start}`)!;
        expect({ min: w.min, max: w.max, first: w.first, last: w.last }).toEqual({ min: Math.min(...vs), max: Math.max(...vs), first: vs[0], last: vs.at(-1) });
      }
      expect((await health()).uptimeSeconds).toBeGreaterThanOrEqual(0);
    } finally {
      await tg.dispose();
    }
  });
});

import v8 from 'node:v8';
import vm from 'node:vm';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../gateway/pipeline/types.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect } from '../support/mqtt.js';
import { storedWindows } from '../support/telemetry.js';
import { referenceWindows } from '../support/reference.js';

/**
 * Soak: a fleet publishes for SOAK_SECONDS (default 100) with faults on: duplicates, reordering, late data within
 * the correction horizon, data too late to keep, devices going offline and flushing their backlog as arrays, and
 * InfluxDB restarting twice. At the end InfluxDB must hold exactly the reference windows of the readings that
 * should be accepted, the counters must say what happened to the others, and the heap after GC must not have
 * grown beyond a generous bound since warm-up.
 *
 * The load is generated here with seeded randomness (not devices/sim) because the test needs to know every
 * reading it caused; the readings are kept in preallocated typed arrays so the bookkeeping does not show up
 * as heap growth.
 */

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const SECONDS = Number(process.env.SOAK_SECONDS ?? 100);
const DEVICES = 12;
const SENSORS = ['temperature', 'humidity', 'pressure'] as const;
const PERIOD_MS = 200;
const SEED = Number(process.env.SOAK_SEED ?? 20261128);

/** mulberry32: small, seeded, good enough for choosing faults. */
function rng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

interface Msg {
  readonly ts: number;
  readonly readings: Record<string, number>;
}

describe('soak: faults on, exact windows at the end, bounded memory', () => {
  let influx: InfluxServer;
  let tg: TestGateway;

  beforeAll(async () => {
    influx = await startInfluxd();
    tg = await startTestGateway({ influxUrl: influx.url, overrides: { gatewayId: 'soak-gw', log: { level: 'warn' } } });
  });

  afterAll(async () => {
    await tg?.dispose();
    await influx?.dispose();
  });

  it(`runs ${SECONDS}s of faulty load; InfluxDB equals the reference`, { timeout: (SECONDS + 180) * 1000 }, async () => {
    const random = rng(SEED);
    const value = () => Math.round(random() * 2e6) / 1e3 - 1000;
    const ticks = Math.ceil((SECONDS * 1000) / PERIOD_MS);
    const capacity = Math.ceil(ticks * DEVICES * SENSORS.length * 1.3);
    const exp = { ts: new Float64Array(capacity), value: new Float64Array(capacity), device: new Uint8Array(capacity), sensor: new Uint8Array(capacity), n: 0 };
    const counts = { duplicateMsgs: 0, tooLateMsgs: 0, lateMsgs: 0, reordered: 0, offline: 0, backlogs: 0, publishErrors: 0, sent: 0, acked: 0 };
    const t0 = Math.floor(Date.now() / 1000) * 1000;

    const devices = Array.from({ length: DEVICES }, (_, d) => ({
      id: `soak-${d}`,
      client: undefined as MqttClient | undefined,
      offlineUntil: 0,
      backlog: [] as Msg[],
      delayed: [] as { due: number; text: string }[],
      usedLate: new Set<number>(),
      // Every device goes offline at least once, at a seeded tick.
      offlineAt: 25 + Math.floor(random() * Math.max(1, ticks - 100)),
    }));
    const inflight = new Set<Promise<void>>();

    const record = (d: number, m: Msg) => {
      SENSORS.forEach((s, i) => {
        const k = exp.n++;
        exp.ts[k] = m.ts;
        exp.value[k] = m.readings[s]!;
        exp.device[k] = d;
        exp.sensor[k] = i;
      });
    };
    const fresh = (ts: number): Msg => ({ ts, readings: Object.fromEntries(SENSORS.map((s) => [s, value()])) });
    const send = (d: number, text: string) => {
      const c = devices[d]!.client!;
      counts.sent++;
      const p: Promise<void> = c
        .publishAsync(`devices/${devices[d]!.id}/telemetry`, text, { qos: 1 })
        .then(
          () => void counts.acked++,
          () => void counts.publishErrors++,
        )
        .finally(() => inflight.delete(p));
      inflight.add(p);
    };

    for (const dev of devices) dev.client = await connect(tg.mqttUrl, { clientId: dev.id });

    let heapWarm = 0;
    const restarts = [Math.floor(ticks / 3), Math.floor((2 * ticks) / 3)];
    const start = Date.now();
    for (let k = 0; k < ticks; k++) {
      // Real-time pacing: tick k is due at start + k * PERIOD_MS.
      const wait = start + k * PERIOD_MS - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (restarts.includes(k)) {
        // InfluxDB goes away for a few seconds while the fleet keeps publishing (the outbox holds the windows).
        void influx
          .stop()
          .then(() => new Promise((r) => setTimeout(r, 3000)))
          .then(() => influx.start());
      }
      if (k === Math.floor(ticks / 5)) {
        gc();
        heapWarm = process.memoryUsage().heapUsed;
      }
      for (let d = 0; d < DEVICES; d++) {
        const dev = devices[d]!;
        const now = k * PERIOD_MS;
        // Event time: device d stamps with an offset of d ms, so regular readings never share a ts.
        const m = fresh(t0 + now + d);
        record(d, m);
        if (dev.client === undefined) {
          dev.backlog.push(m);
          if (now >= dev.offlineUntil) {
            dev.client = await connect(tg.mqttUrl, { clientId: dev.id });
            counts.backlogs++;
            for (let i = 0; i < dev.backlog.length; i += 20) send(d, JSON.stringify(dev.backlog.slice(i, i + 20)));
            dev.backlog = [];
          }
          continue;
        }
        const text = JSON.stringify({ ts: m.ts, seq: k, readings: m.readings });
        const r = random();
        if (r < 0.08) {
          // Reordered: sent one to three periods later, after newer ones.
          counts.reordered++;
          dev.delayed.push({ due: now + PERIOD_MS * (1 + Math.floor(random() * 3)), text });
        } else send(d, text);
        if (r > 0.95) {
          // Duplicated: the same message again, a little later.
          counts.duplicateMsgs++;
          dev.delayed.push({ due: now + PERIOD_MS * (1 + Math.floor(random() * 5)), text });
        }
        if (k > 20 && random() < 0.02) {
          // Late but within the correction horizon (3 to 10 s old): corrects emitted windows.
          let ts = t0 + now - 3000 - Math.floor(random() * 35) * PERIOD_MS + 100 + d;
          while (dev.usedLate.has(ts)) ts += PERIOD_MS;
          dev.usedLate.add(ts);
          const late = fresh(ts);
          record(d, late);
          counts.lateMsgs++;
          send(d, JSON.stringify(late));
        }
        if (k > 20 && random() < 0.005) {
          // Too late to keep (two minutes old): counted late, not stored.
          counts.tooLateMsgs++;
          send(d, JSON.stringify(fresh(t0 + now - 120_000 + 150 + d)));
        }
        const due = dev.delayed.filter((x) => x.due <= now);
        if (due.length > 0) {
          dev.delayed = dev.delayed.filter((x) => x.due > now);
          for (const x of due) send(d, x.text);
        }
        if (k === dev.offlineAt || (k > 20 && k < ticks - 50 && random() < 0.001)) {
          // Offline for 3 to 8 s: what it measures meanwhile goes out as backlog arrays on reconnect.
          counts.offline++;
          const c = dev.client;
          dev.client = undefined;
          for (const x of dev.delayed) dev.backlog.push(JSON.parse(x.text) as Msg);
          // Delayed duplicates of already-sent messages are now backlog duplicates; both ways they are dropped.
          dev.delayed = [];
          dev.offlineUntil = now + 3000 + Math.floor(random() * 5000);
          await c.endAsync();
        }
      }
    }
    for (let d = 0; d < DEVICES; d++) {
      const dev = devices[d]!;
      if (dev.client === undefined) {
        dev.client = await connect(tg.mqttUrl, { clientId: dev.id });
        for (let i = 0; i < dev.backlog.length; i += 20) send(d, JSON.stringify(dev.backlog.slice(i, i + 20)));
      }
      for (const x of dev.delayed) send(d, x.text);
    }
    await Promise.all([...inflight]);
    if (!influx.running) await waitFor('InfluxDB back', () => (influx.running ? true : undefined), 30_000);
    expect(counts.publishErrors).toBe(0);
    expect(counts.acked).toBe(counts.sent);

    // Every window closed and written.
    await waitFor(
      'all windows closed and the outbox drained',
      async () => {
        const h = (await (await fetch(`${tg.httpUrl}/health`)).json()) as { pipeline: { openWindows: number }; outbox: { points: number } };
        return h.pipeline.openWindows === 0 && h.outbox.points === 0 && tg.gw.outbox.status().openPoints === 0 ? true : undefined;
      },
      60_000,
    );
    for (const dev of devices) await dev.client?.endAsync();
    gc();
    const heapEnd = process.memoryUsage().heapUsed;

    const readings: Reading[] = [];
    for (let k = 0; k < exp.n; k++) readings.push({ device: `soak-${exp.device[k]}`, sensor: SENSORS[exp.sensor[k]!]!, ts: exp.ts[k]!, value: exp.value[k]! });
    const reference = referenceWindows(readings, 1000);
    const stored = await waitFor(
      'every reference window in InfluxDB',
      async () => {
        const s = await storedWindows(influx, 'soak-gw');
        if (s.size < reference.size) return undefined;
        for (const [key, ref] of reference) if (s.get(key)?.count !== ref.count) return undefined;
        return s;
      },
      60_000,
    );

    expect(stored.size).toBe(reference.size);
    let mismatches = 0;
    for (const [key, ref] of reference) {
      const got = stored.get(key)!;
      const same =
        got.mean === ref.mean && got.min === ref.min && got.max === ref.max && got.first === ref.first && got.last === ref.last && got.count === ref.count;
      if (!same && mismatches++ < 5) expect({ key, ...got }).toEqual({ key, ...ref, device: got.device, sensor: got.sensor, start: got.start });
    }
    expect(mismatches).toBe(0);

    // What happened to the rest, by counter.
    const gw = tg.gw;
    expect(await metricValue(gw, 'readingsAccepted')).toBe(exp.n);
    expect(await metricValue(gw, 'readingsLate')).toBe(counts.tooLateMsgs * SENSORS.length);
    expect(await metricValue(gw, 'readingsDuplicate')).toBe(counts.duplicateMsgs * SENSORS.length);
    expect(await metricValue(gw, 'outboxDropped')).toBe(0);
    expect(counts.offline).toBeGreaterThan(0);
    expect(await metricValue(gw, 'windowsCorrected')).toBeGreaterThan(0);

    // Memory: the gateway's state is bounded by the horizons, not by how long it runs.
    expect(heapEnd - heapWarm).toBeLessThan(48 * 1024 * 1024);
    console.log(
      `soak: ${SECONDS}s, ${exp.n} readings, ${reference.size} windows, heap warm ${(heapWarm / 2 ** 20).toFixed(1)} MiB -> end ${(heapEnd / 2 ** 20).toFixed(1)} MiB`,
      counts,
    );
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../gateway/pipeline/types.js';
import { waitFor } from '../support/wait.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { portsOf, prepareGateway, spawnGateway, type GatewayProcess } from '../support/process.js';
import { storedWindows } from '../support/telemetry.js';
import { referenceWindows } from '../support/reference.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A device that publishes QoS 1 and waits for each PUBACK; when the gateway goes away it reconnects and
 * sends again what was not acknowledged (what an MQTT client with a persistent outgoing store does).
 */
class Device {
  private client: MqttClient | undefined;
  attempts = 0;
  constructor(
    private readonly url: string,
    readonly id: string,
  ) {}

  async send(topic: string, payload: string): Promise<void> {
    for (;;) {
      this.attempts++;
      try {
        const c = this.client ?? (this.client = await this.connect());
        await new Promise<void>((resolve, reject) => {
          const onClose = () => reject(new Error('connection closed'));
          c.once('close', onClose);
          const timer = setTimeout(() => reject(new Error('no PUBACK')), 5000);
          c.publish(topic, payload, { qos: 1 }, (err) => {
            clearTimeout(timer);
            c.off('close', onClose);
            if (err) reject(err);
            else resolve();
          });
        });
        return;
      } catch {
        this.client?.end(true);
        this.client = undefined;
        await sleep(100);
      }
    }
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
  }

  private connect(): Promise<MqttClient> {
    const c = mqtt.connect(this.url, { clientId: this.id, reconnectPeriod: 0, connectTimeout: 2000 });
    return new Promise((resolve, reject) => {
      const fail = (err?: Error) => {
        c.end(true);
        reject(err ?? new Error('closed'));
      };
      c.once('connect', () => {
        c.off('error', fail);
        c.off('close', fail);
        resolve(c);
      });
      c.once('error', fail);
      c.once('close', fail);
    });
  }
}

/**
 * Issue 10: a QoS 1 reading that got its PUBACK is never lost, even when the gateway process is killed with
 * SIGKILL in the middle of open windows, several times during one stream, and none is counted twice.
 */
describe('durable acknowledgement across SIGKILL', () => {
  let influx: InfluxServer;
  let dir: string;
  let gp: GatewayProcess | undefined;

  beforeAll(async () => {
    influx = await startInfluxd();
    dir = mkdtempSync(join(tmpdir(), 'gw-durable-'));
  });
  afterAll(async () => {
    await gp?.kill('SIGKILL');
    await influx?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every acknowledged reading is in exactly one window after 4 random SIGKILLs', async () => {
    const f = await prepareGateway(dir, influx.url, { gatewayId: 'durable-gw', durability: { checkpointInterval: '200ms' } });
    gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    const url = gp.mqttUrl;
    let stop = false;
    const sent = { ts: 0, seq: 0 };
    let rnd = 2024;
    const random = () => (rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0) / 2 ** 32;

    // dev-ts stamps its readings (dedup by ts); dev-seq does not (event time = the gateway's LOGGED receive
    // time; dedup by seq) and sends its seq as the value, so its windows must be contiguous seq ranges.
    const devTs = new Device(url, 'dev-ts');
    const devSeq = new Device(url, 'dev-seq');
    const tsReadings: Reading[] = [];
    let done = false;
    let lastTs = 0;
    const streams = Promise.all([
      (async () => {
        for (let i = 0; !stop; i++, sent.ts++) {
          // Event time close to the wall clock (so windows close as the stream goes), unique per reading.
          const ts = (lastTs = Math.max(lastTs + 1, Date.now() - 300));
          const value = Math.round(Math.cos(i / 7) * 1e6) / 1e3;
          await devTs.send('devices/dev-ts/telemetry', JSON.stringify({ ts, seq: i, readings: { temp: value } }));
          tsReadings.push({ device: 'dev-ts', sensor: 'temp', ts, value });
        }
      })(),
      (async () => {
        for (let i = 0; !stop; i++, sent.seq++) await devSeq.send('devices/dev-seq/telemetry', JSON.stringify({ seq: i, readings: { count: i } }));
      })(),
    ]).finally(() => (done = true));

    const outputs: string[] = [];
    let kills = 0;
    // Both streams get a random number of readings through (acknowledged) between two kills, and after the last.
    const progress = async (n: number) => {
      const from = { ...sent };
      await waitFor(`${n} more readings of each stream`, () => sent.ts - from.ts >= n && sent.seq - from.seq >= n, 60_000);
    };
    while (kills < 4) {
      await progress(20 + Math.floor(random() * 100));
      await gp.kill('SIGKILL');
      outputs.push(gp.output());
      kills++;
      gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    }
    await progress(50);
    stop = true;
    await streams;
    const n = sent.seq;
    await devTs.close();
    await devSeq.close();
    expect(done).toBe(true);
    expect(devTs.attempts + devSeq.attempts).toBeGreaterThan(sent.ts + sent.seq); // some were sent again
    // The restarts did replay acknowledged publishes from the log (the checkpoint alone would have lost them).
    expect(outputs.slice(1).concat(gp.output()).join('\n')).toMatch(/replayed the ingest log after an unclean stop/);

    const expected = referenceWindows(tsReadings, 1000);
    const stored = await waitFor(
      'all windows in InfluxDB',
      async () => {
        const s = await storedWindows(influx, 'durable-gw');
        const seqCount = [...s.values()].filter((w) => w.device === 'dev-seq').reduce((a, w) => a + w.count, 0);
        const tsWindows = [...s.values()].filter((w) => w.device === 'dev-ts').length;
        return seqCount >= n && tsWindows >= expected.size && (await gp!.metric('gateway_outbox_points')) === 0 ? s : undefined;
      },
      30_000,
    );

    const tsStored = [...stored.values()].filter((w) => w.device === 'dev-ts');
    expect(tsStored.length).toBe(expected.size);
    for (const [key, ref] of expected) {
      const got = stored.get(key)!;
      expect(got, key).toBeDefined();
      expect({ mean: got.mean, min: got.min, max: got.max, first: got.first, last: got.last, count: got.count }, key).toEqual(ref);
    }

    const seqWindows = [...stored.values()].filter((w) => w.device === 'dev-seq').sort((a, b) => a.start - b.start);
    let next = 0;
    for (const w of seqWindows) {
      expect({ min: w.min, first: w.first }, `window ${w.start}`).toEqual({ min: next, first: next });
      expect({ count: w.count, last: w.last, mean: w.mean }, `window ${w.start}`).toEqual({ count: w.max - w.min + 1, last: w.max, mean: (w.min + w.max) / 2 });
      next = w.max + 1;
    }
    expect(next).toBe(n);

    expect((await gp.kill('SIGTERM')).code).toBe(0);
  });
});

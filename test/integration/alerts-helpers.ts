import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import type { InfluxServer } from '../support/influxd.js';
import { waitFor } from '../support/wait.js';
import { connect, publish } from '../support/mqtt.js';

/** Shared by the alerts integration tests: an `alerts/#` subscriber, reading senders, InfluxDB queries. */

export interface AlertMessage {
  device: string;
  sensor: string;
  rule: string;
  state: 'firing' | 'resolved';
  severity: string;
  value: number;
  threshold: number | null;
  ts: number;
  since: number;
}

export interface Received {
  readonly topic: string;
  readonly msg: AlertMessage;
  readonly retain: boolean;
  readonly qos: number;
}

export interface AlertSubscriber {
  readonly client: MqttClient;
  readonly received: Received[];
  /** Waits for the first message after the previous next() call that satisfies `pred`, and returns it. */
  next(what: string, pred: (r: Received) => boolean): Promise<Received>;
  /** Messages received that satisfy `pred`. */
  where(pred: (r: Received) => boolean): Received[];
}

/** Connects and subscribes to `alerts/#` with QoS 1; resolves once SUBACK arrived (so retained messages are on their way). */
export async function alertSubscriber(mqttUrl: string, clientId: string): Promise<AlertSubscriber> {
  const client = await connect(mqttUrl, { clientId });
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    received.push({ topic, msg: JSON.parse(payload.toString()) as AlertMessage, retain: packet.retain, qos: packet.qos });
  });
  await client.subscribeAsync('alerts/#', { qos: 1 });
  let cursor = 0;
  return {
    client,
    received,
    async next(what, pred) {
      const i = await waitFor(what, () => {
        const at = received.findIndex((r, j) => j >= cursor && pred(r));
        return at >= 0 ? at : undefined;
      });
      cursor = i + 1;
      return received[i]!;
    },
    where: (pred) => received.filter(pred),
  };
}

/** Publishes one reading on the per-sensor topic with its own timestamp (QoS 1: resolves after PUBACK). */
export async function sendReading(client: MqttClient, device: string, sensor: string, ts: number, value: number): Promise<void> {
  await publish(client, `devices/${device}/sensors/${sensor}`, JSON.stringify({ ts, value }));
}

export interface AlertPoint {
  time: number;
  device: string;
  sensor: string;
  rule: string;
  severity: string;
  gateway: string;
  state: string;
  value: number;
  threshold: number | null;
}

/** Every point of the `alerts` measurement, oldest first (empty while the measurement does not exist yet). */
export async function alertPoints(influx: InfluxServer, gatewayId = 'test-gw'): Promise<AlertPoint[]> {
  const rows = await influx.rows(`SELECT * FROM "alerts" WHERE "gateway" = '${gatewayId}'`, 'iot');
  return rows.map((r) => ({
    time: Date.parse(String(r['time'])),
    device: String(r['device']),
    sensor: String(r['sensor']),
    rule: String(r['rule']),
    severity: String(r['severity']),
    gateway: String(r['gateway']),
    state: String(r['state']),
    value: r['value'] as number,
    threshold: (r['threshold'] as number | null) ?? null,
  }));
}

/** Replaces a file the way editors do (write aside, rename over), so the watcher never reads half a file. */
export function replaceFile(path: string, text: string): void {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Current epoch ms rounded down to a whole second, minus `agoMs`: a base for device timestamps. */
export function baseTs(agoMs: number): number {
  return Math.floor((Date.now() - agoMs) / 1000) * 1000;
}

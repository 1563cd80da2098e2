import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { DeviceModel } from './device.js';
import { NO_FAULTS, type FaultOptions, type Outgoing } from './faults.js';
import { createRng, deriveSeed } from './rng.js';
import { jsonEncoding, sparkplugEncoding } from './sparkplug-encoding.js';

export interface DeviceCredential {
  readonly id: string;
  readonly password?: string;
}

export interface FleetOptions {
  /** mqtt://, mqtts://, ws:// or wss:// URL of the gateway. */
  readonly url: string;
  /** Ids and secrets of the devices; without secrets they connect anonymously. */
  readonly devices: readonly DeviceCredential[];
  readonly sensors: readonly string[];
  /** Telemetry messages per second per device. */
  readonly rate: number;
  readonly qos?: 0 | 1;
  readonly faults?: Partial<FaultOptions>;
  /** Each device's clock is off by a fixed amount drawn from [-clockSkewMs, +clockSkewMs]. */
  readonly clockSkewMs?: number;
  /** All devices publish at the same instant each period (a thundering herd) instead of spread evenly over it. */
  readonly burst?: boolean;
  readonly seed?: number;
  /** Speak Sparkplug B as edge nodes of this group instead of the JSON wire contract (sparkplug-encoding.ts). */
  readonly sparkplug?: { readonly group: string };
  /** Connections opened at once while starting. */
  readonly connectConcurrency?: number;
  /** Extra MQTT.js options (e.g. `ca` for mqtts://, `rejectUnauthorized`). */
  readonly clientOptions?: IClientOptions;
  readonly now?: () => number;
  /** Called for connection and publish errors (the fleet keeps going). */
  readonly onError?: (deviceId: string, err: Error) => void;
}

export interface FleetStats {
  readonly devices: number;
  readonly connected: number;
  readonly connectFailures: number;
  /** PUBLISH packets handed to the client (a backlog array is one). */
  readonly sent: number;
  /** Acknowledged by the broker (QoS 1) or written to the socket (QoS 0). */
  readonly acked: number;
  readonly errors: number;
  /** Fresh telemetry messages generated (each once, however often or late it was sent). */
  readonly messages: number;
  readonly readings: number;
  readonly duplicates: number;
  readonly reordered: number;
  readonly late: number;
  readonly backlogFlushes: number;
  readonly backlogMessages: number;
  readonly droppedOffline: number;
  readonly elapsedMs: number;
  /** acked per second since start. */
  readonly ackRate: number;
}

export interface Fleet {
  /** Connects every device (resolves once each has connected or failed), then starts publishing. */
  start(): Promise<void>;
  /** Flushes what devices still hold back, disconnects them all and returns the final stats. */
  stop(): Promise<FleetStats>;
  stats(): FleetStats;
}

interface SimDevice {
  readonly model: DeviceModel;
  client: MqttClient | undefined;
  nextAt: number;
  linkDown: boolean;
  /** Between the client's 'connect' and its 'close': what is published now goes on the wire at once. */
  up: boolean;
  /** The fleet ended the connection (link down) and must call reconnect() when the link is back. */
  ended: boolean;
  /** Published while the connection is not up (being set up again, or being ended): sent on the next 'connect'. */
  readonly pending: Outgoing[];
}

/**
 * A fleet of virtual devices on real MQTT connections, one per device. A single timer drives every device (cheap
 * for thousands of them); each device's DeviceModel decides what to publish, this module only does the I/O and
 * counts. Reused by the simulator CLI and the benchmarks.
 */
export function createFleet(options: FleetOptions): Fleet {
  const now = options.now ?? Date.now;
  const qos = options.qos ?? 0;
  const periodMs = 1000 / options.rate;
  const faults: FaultOptions = { ...NO_FAULTS, ...options.faults };
  const seed = options.seed ?? 1;
  const skew = options.clockSkewMs ?? 0;
  const fleetRng = createRng(seed);
  const n = options.devices.length;

  const devices: SimDevice[] = options.devices.map((cred, i) => {
    const skewMs = skew > 0 ? Math.round((fleetRng() * 2 - 1) * skew) : 0;
    const offlinePhaseMs = faults.offlineEveryMs > 0 ? Math.floor(fleetRng() * faults.offlineEveryMs) : 0;
    const model = new DeviceModel({ id: cred.id, sensors: options.sensors, faults, skewMs, offlinePhaseMs }, createRng(deriveSeed(seed, i)));
    return { model, client: undefined, nextAt: 0, linkDown: false, up: false, ended: false, pending: [] };
  });
  const wire = options.sparkplug ? sparkplugEncoding(options.sparkplug.group, options.sensors) : jsonEncoding;

  let sent = 0;
  let acked = 0;
  let errors = 0;
  let connectFailures = 0;
  let startedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const error = (id: string, err: Error) => {
    errors++;
    options.onError?.(id, err);
  };

  const send = (client: MqttClient, id: string, topic: string, payload: Buffer) => {
    sent++;
    client.publish(topic, payload, { qos }, (err) => {
      if (err) error(id, err);
      else acked++;
    });
  };
  /**
   * Only a connection that is up gets publishes; the rest wait in `pending`. MQTT.js would store a QoS 1 publish made
   * while it reconnects and send it after CONNACK, but not if end() is called meanwhile: it then drops the stored
   * publishes without failing them and end() waits for their PUBACKs forever (a fleet stopped, or a link lost,
   * while a reconnect waits for its CONNACK hung that way).
   */
  const publish = (d: SimDevice, out: Outgoing) => {
    const client = d.client;
    if (!client) return;
    if (!d.up || d.linkDown) {
      d.pending.push(out);
      return;
    }
    for (const p of wire.encode(d.model.id, out)) send(client, d.model.id, p.topic, p.payload);
  };
  const flushPending = (d: SimDevice) => {
    for (const o of d.pending.splice(0)) publish(d, o);
  };
  /** Ends the connection when the link goes down; one still being set up is ended by its 'connect' handler. */
  const linkLost = (d: SimDevice, client: MqttClient) => {
    if (!d.up || d.ended) return;
    d.ended = true;
    d.up = false;
    client.end();
  };
  /** Resolves true once the device's connection is up, false if it is not within `ms`. */
  const whenUp = (d: SimDevice, client: MqttClient, ms: number) =>
    new Promise<boolean>((resolve) => {
      if (d.up) return resolve(true);
      const onConnect = () => {
        clearTimeout(timer);
        resolve(d.up);
      };
      const timer = setTimeout(() => {
        client.removeListener('connect', onConnect);
        resolve(d.up);
      }, ms);
      timer.unref();
      client.once('connect', onConnect);
    });

  const connectOne = (d: SimDevice, cred: DeviceCredential) =>
    new Promise<void>((resolve) => {
      const client = mqtt.connect(options.url, {
        clientId: cred.id,
        ...(cred.password !== undefined ? { username: cred.id, password: cred.password } : {}),
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        clean: true,
        ...wire.connectOptions(cred.id),
        ...options.clientOptions,
      });
      d.client = client;
      let first = true;
      const topics = wire.subscriptions(cred.id);
      client.on('close', () => {
        d.up = false;
      });
      client.on('connect', () => {
        if (first) resolve();
        first = false;
        // The link went down while this connection was being set up: it ends now, before any birth or data.
        if (d.linkDown && !stopped) {
          d.up = true;
          linkLost(d, client);
          return;
        }
        d.up = true;
        if (topics.length > 0) client.subscribe(topics, { qos: 0 });
        const { publishes, nextWill } = wire.connected(cred.id, now());
        for (const p of publishes) send(client, cred.id, p.topic, p.payload);
        if (nextWill) client.options.will = nextWill;
        flushPending(d);
      });
      client.on('message', (topic, payload) => {
        for (const p of wire.command(cred.id, topic, payload, now())) send(client, cred.id, p.topic, p.payload);
      });
      client.on('error', (err) => {
        error(cred.id, err);
        if (first) {
          connectFailures++;
          first = false;
          client.end(true);
          d.client = undefined;
          resolve();
        }
      });
    });

  const tick = () => {
    const t = now();
    for (const d of devices) {
      if (!d.client || d.nextAt > t) continue;
      // Behind by more than a few periods (a stalled event loop): skip ahead instead of publishing a storm.
      if (t - d.nextAt > 5 * periodMs) d.nextAt = t;
      while (d.nextAt <= t) {
        // The scheduled instant, not `t`: catch-up samples of one tick must carry distinct timestamps, or the
        // gateway rightly takes them for resends of one reading.
        const { out, offline } = d.model.sample(Math.round(d.nextAt));
        if (offline !== d.linkDown) {
          d.linkDown = offline;
          // A device without uplink really disconnects; mqtt.js reconnects it when the link is back (after the
          // end() in progress, if any: it defers a reconnect() until then).
          if (offline) linkLost(d, d.client);
          else if (d.ended) {
            d.ended = false;
            d.client.reconnect();
          }
        }
        for (const o of out) publish(d, o);
        d.nextAt += periodMs;
      }
    }
  };

  const stats = (): FleetStats => {
    const c = { messages: 0, readings: 0, duplicates: 0, reordered: 0, late: 0, backlogFlushes: 0, backlogMessages: 0, droppedOffline: 0 };
    for (const d of devices) {
      const f = d.model.faults.counters;
      c.messages += d.model.sent;
      c.duplicates += f.duplicates;
      c.reordered += f.reordered;
      c.late += f.late;
      c.backlogFlushes += f.backlogFlushes;
      c.backlogMessages += f.backlogMessages;
      c.droppedOffline += f.droppedOffline;
    }
    c.readings = c.messages * options.sensors.length;
    const elapsedMs = startedAt > 0 ? now() - startedAt : 0;
    return {
      devices: n,
      connected: devices.filter((d) => d.client?.connected).length,
      connectFailures,
      sent,
      acked,
      errors,
      ...c,
      elapsedMs,
      ackRate: elapsedMs > 0 ? Math.round((acked / elapsedMs) * 1000 * 10) / 10 : 0,
    };
  };

  return {
    async start() {
      const concurrency = options.connectConcurrency ?? 50;
      let next = 0;
      const worker = async () => {
        while (next < n && !stopped) {
          const i = next++;
          await connectOne(devices[i]!, options.devices[i]!);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
      startedAt = now();
      devices.forEach((d, i) => {
        d.nextAt = startedAt + (options.burst ? 0 : (i / n) * periodMs);
      });
      const tickMs = Math.max(1, Math.min(50, Math.floor(periodMs / 4)));
      timer = setInterval(tick, tickMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await Promise.all(
        devices.map(async (d) => {
          const client = d.client;
          if (!client) return;
          // Bring the link back so what the device buffered is delivered before it disconnects.
          d.linkDown = false;
          if (d.ended) {
            d.ended = false;
            client.reconnect();
          }
          for (const o of d.model.faults.drain()) d.pending.push(o);
          if (await whenUp(d, client, 10_000)) {
            flushPending(d);
            await client.endAsync().catch((err: Error) => error(d.model.id, err));
            return;
          }
          // Never came back: what it held is lost (counted), and the connection attempt is abandoned.
          if (d.pending.length > 0) error(d.model.id, new Error(`${d.pending.length} messages not sent: not connected at stop`));
          d.pending.length = 0;
          await client.endAsync(true).catch((err: Error) => error(d.model.id, err));
        }),
      );
      return stats();
    },
    stats,
  };
}

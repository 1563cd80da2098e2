import type { IClientOptions } from 'mqtt';
import { DeviceModel } from './device.js';
import { DeviceLink, type DeviceCredential, type LinkCounters, type LinkSettings } from './device-link.js';
import { NO_FAULTS, type FaultOptions } from './faults.js';
import { createRng, deriveSeed } from './rng.js';
import { jsonEncoding, sparkplugEncoding } from './sparkplug-encoding.js';

export type { DeviceCredential } from './device-link.js';

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

/**
 * A fleet of virtual devices on real MQTT connections, one per device (device-link.ts). A single timer drives
 * every device (cheap for thousands of them); each device's DeviceModel decides what to publish, its DeviceLink
 * does the I/O, and the fleet counts. Reused by the simulator CLI and the benchmarks.
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
  const counters: LinkCounters = { sent: 0, acked: 0, errors: 0, connectFailures: 0 };
  let startedAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const link: LinkSettings = {
    url: options.url,
    qos,
    wire: options.sparkplug ? sparkplugEncoding(options.sparkplug.group, options.sensors) : jsonEncoding,
    clientOptions: options.clientOptions,
    now,
    counters,
    onError: options.onError,
    stopped: () => stopped,
  };

  const devices: DeviceLink[] = options.devices.map((cred, i) => {
    const skewMs = skew > 0 ? Math.round((fleetRng() * 2 - 1) * skew) : 0;
    const offlinePhaseMs = faults.offlineEveryMs > 0 ? Math.floor(fleetRng() * faults.offlineEveryMs) : 0;
    const model = new DeviceModel({ id: cred.id, sensors: options.sensors, faults, skewMs, offlinePhaseMs }, createRng(deriveSeed(seed, i)));
    return new DeviceLink(model, link);
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
        d.setLinkDown(offline);
        for (const o of out) d.publish(o);
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
      connectFailures: counters.connectFailures,
      sent: counters.sent,
      acked: counters.acked,
      errors: counters.errors,
      ...c,
      elapsedMs,
      ackRate: elapsedMs > 0 ? Math.round((counters.acked / elapsedMs) * 1000 * 10) / 10 : 0,
    };
  };

  return {
    async start() {
      const concurrency = options.connectConcurrency ?? 50;
      let next = 0;
      const worker = async () => {
        while (next < n && !stopped) {
          const i = next++;
          await devices[i]!.connect(options.devices[i]!);
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
      await Promise.all(devices.map((d) => d.stop()));
      return stats();
    },
    stats,
  };
}

import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { DeviceModel } from './device.js';
import type { Outgoing } from './faults.js';
import type { WireEncoding } from './sparkplug-encoding.js';

export interface DeviceCredential {
  readonly id: string;
  readonly password?: string;
}

/** What the connections of one fleet count together (FleetStats). */
export interface LinkCounters {
  sent: number;
  acked: number;
  errors: number;
  connectFailures: number;
}

/** What every connection of one fleet shares. */
export interface LinkSettings {
  readonly url: string;
  readonly qos: 0 | 1;
  readonly wire: WireEncoding;
  readonly clientOptions: IClientOptions | undefined;
  readonly now: () => number;
  readonly counters: LinkCounters;
  readonly onError: ((deviceId: string, err: Error) => void) | undefined;
  /** The fleet is being stopped. */
  readonly stopped: () => boolean;
}

/**
 * One simulated device's MQTT connection, and its link going down and coming back as its DeviceModel says (the
 * fleet's timer drives it: fleet.ts). Only a connection that is up gets publishes; the rest wait in `pending`.
 * MQTT.js would store a QoS 1 publish made while it reconnects and send it after CONNACK, but not if end() is
 * called meanwhile: it then drops the stored publishes without failing them and end() waits for their PUBACKs
 * forever (a fleet stopped, or a link lost, while a reconnect waits for its CONNACK hung that way).
 */
export class DeviceLink {
  client: MqttClient | undefined;
  nextAt = 0;
  linkDown = false;
  /** Between the client's 'connect' and its 'close': what is published now goes on the wire at once. */
  private up = false;
  /** The fleet ended the connection (link down) and must call reconnect() when the link is back. */
  private ended = false;
  /** Published while the connection is not up (being set up again, or being ended): sent on the next 'connect'. */
  private readonly pending: Outgoing[] = [];

  constructor(
    readonly model: DeviceModel,
    private readonly s: LinkSettings,
  ) {}

  /** Resolves once the first connection attempt has connected or failed (counted in connectFailures). */
  connect(cred: DeviceCredential): Promise<void> {
    const s = this.s;
    return new Promise<void>((resolve) => {
      const client = mqtt.connect(s.url, {
        clientId: cred.id,
        ...(cred.password !== undefined ? { username: cred.id, password: cred.password } : {}),
        reconnectPeriod: 1000,
        connectTimeout: 10_000,
        clean: true,
        ...s.wire.connectOptions(cred.id),
        ...s.clientOptions,
      });
      this.client = client;
      let first = true;
      const topics = s.wire.subscriptions(cred.id);
      client.on('close', () => {
        this.up = false;
      });
      client.on('connect', () => {
        if (first) resolve();
        first = false;
        // The link went down while this connection was being set up: it ends now, before any birth or data.
        if (this.linkDown && !s.stopped()) {
          this.up = true;
          this.linkLost(client);
          return;
        }
        this.up = true;
        if (topics.length > 0) client.subscribe(topics, { qos: 0 });
        const { publishes, nextWill } = s.wire.connected(cred.id, s.now());
        for (const p of publishes) this.send(client, p.topic, p.payload);
        if (nextWill) client.options.will = nextWill;
        this.flushPending();
      });
      client.on('message', (topic, payload) => {
        for (const p of s.wire.command(cred.id, topic, payload, s.now())) this.send(client, p.topic, p.payload);
      });
      client.on('error', (err) => {
        this.error(err);
        if (first) {
          s.counters.connectFailures++;
          first = false;
          client.end(true);
          this.client = undefined;
          resolve();
        }
      });
    });
  }

  publish(out: Outgoing): void {
    const client = this.client;
    if (!client) return;
    if (!this.up || this.linkDown) {
      this.pending.push(out);
      return;
    }
    for (const p of this.s.wire.encode(this.model.id, out)) this.send(client, p.topic, p.payload);
  }

  /**
   * The device's uplink went down or came back (DeviceModel.sample's `offline`). A device without uplink really
   * disconnects; mqtt.js reconnects it when the link is back (after the end() in progress, if any: it defers a
   * reconnect() until then).
   */
  setLinkDown(offline: boolean): void {
    if (offline === this.linkDown || !this.client) return;
    this.linkDown = offline;
    if (offline) this.linkLost(this.client);
    else if (this.ended) {
      this.ended = false;
      this.client.reconnect();
    }
  }

  /** Delivers what the device still holds back, then disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    // Bring the link back so what the device buffered is delivered before it disconnects.
    this.linkDown = false;
    if (this.ended) {
      this.ended = false;
      client.reconnect();
    }
    for (const o of this.model.faults.drain()) this.pending.push(o);
    if (await this.whenUp(client, 10_000)) {
      this.flushPending();
      await client.endAsync().catch((err: Error) => this.error(err));
      return;
    }
    // Never came back: what it held is lost (counted), and the connection attempt is abandoned.
    if (this.pending.length > 0) this.error(new Error(`${this.pending.length} messages not sent: not connected at stop`));
    this.pending.length = 0;
    await client.endAsync(true).catch((err: Error) => this.error(err));
  }

  private send(client: MqttClient, topic: string, payload: Buffer): void {
    const c = this.s.counters;
    c.sent++;
    client.publish(topic, payload, { qos: this.s.qos }, (err) => {
      if (err) this.error(err);
      else c.acked++;
    });
  }

  private flushPending(): void {
    for (const o of this.pending.splice(0)) this.publish(o);
  }

  /** Ends the connection when the link goes down; one still being set up is ended by its 'connect' handler. */
  private linkLost(client: MqttClient): void {
    if (!this.up || this.ended) return;
    this.ended = true;
    this.up = false;
    client.end();
  }

  /** Resolves true once the device's connection is up, false if it is not within `ms`. */
  private whenUp(client: MqttClient, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      if (this.up) return resolve(true);
      const onConnect = () => {
        clearTimeout(timer);
        resolve(this.up);
      };
      const timer = setTimeout(() => {
        client.removeListener('connect', onConnect);
        resolve(this.up);
      }, ms);
      timer.unref();
      client.once('connect', onConnect);
    });
  }

  private error(err: Error): void {
    this.s.counters.errors++;
    this.s.onError?.(this.model.id, err);
  }
}

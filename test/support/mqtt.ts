import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * A connected MQTT.js client; rejects if CONNECT is refused. Reconnect is off so refusals surface in tests.
 * `attach` runs before the CONNECT goes out: a persistent session's queued messages may arrive in the same read
 * as the CONNACK, before a handler attached after the await would see them.
 */
export async function connect(url: string, opts: IClientOptions = {}, attach?: (client: MqttClient) => void): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  attach?.(client);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
  return client;
}

/** Connects and resolves with the CONNACK return code (0 = accepted), closing the client. */
export async function connackCode(url: string, opts: IClientOptions): Promise<number> {
  try {
    const c = await connect(url, opts);
    await c.endAsync();
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

export async function publish(client: MqttClient, topic: string, payload: string | Buffer, qos: 0 | 1 = 1, retain = false): Promise<void> {
  await client.publishAsync(topic, payload, { qos, retain });
}

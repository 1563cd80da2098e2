import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** A connected MQTT.js client; rejects if CONNECT is refused. Reconnect is off so refusals surface in tests. */
export async function connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', (err) => {
      client.end(true);
      reject(err);
    });
  });
  return client;
}

export async function publish(client: MqttClient, topic: string, payload: string | Buffer, qos: 0 | 1 = 1, retain = false): Promise<void> {
  await client.publishAsync(topic, payload, { qos, retain });
}

import type { MqttClient } from 'mqtt';
import { connect } from './mqtt.js';

/**
 * A device that fails over: publishes on its current gateway and, when that gateway's connection is gone, connects
 * to the next URL and sends the same reading again (QoS 1; a QoS 0 reading in flight is just lost, as MQTT says).
 * `acked` counts QoS 1 readings whose PUBACK arrived.
 */
export class FailoverDevice {
  private client: MqttClient | undefined;
  private at = 0;
  acked = 0;
  lost = 0;

  constructor(
    readonly id: string,
    private readonly urls: () => readonly string[],
    private readonly qos: 0 | 1,
  ) {}

  async send(topic: string, payload: string): Promise<boolean> {
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const c = await this.connected();
        await new Promise<void>((resolve, reject) => {
          const onClose = () => reject(new Error('connection closed'));
          c.once('close', onClose);
          c.publish(topic, payload, { qos: this.qos }, (err) => {
            c.off('close', onClose);
            if (err) reject(err);
            else resolve();
          });
        });
        if (this.qos === 1) this.acked++;
        return true;
      } catch {
        this.client?.end(true);
        this.client = undefined;
        this.at++;
        if (this.qos === 0) {
          this.lost++;
          return false;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`${this.id}: no gateway took the reading`);
  }

  async close(): Promise<void> {
    await this.client?.endAsync().catch(() => undefined);
  }

  private async connected(): Promise<MqttClient> {
    if (this.client?.connected) return this.client;
    const urls = this.urls();
    this.client = await connect(urls[this.at % urls.length]!, { clientId: this.id, clean: true });
    return this.client;
  }
}

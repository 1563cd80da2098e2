import type { IClientOptions, MqttClient } from 'mqtt';
import { decodePayload, encodePayload, type MetricInit, type SpPayload } from '../../gateway/sparkplug/codec.js';
import { DataType } from '../../gateway/sparkplug/datatypes.js';
import type { Reading } from '../../gateway/pipeline/types.js';
import { connect } from './mqtt.js';

/**
 * A Sparkplug B edge node for tests, on MQTT.js and the gateway's own schema, for what Eclipse Tahu's npm
 * `sparkplug-client` 3.2.4 (integration/sparkplug-tahu.test.ts) cannot do: skip a seq, replay an old will, choose
 * its bdSeq, send is_historical. It follows Sparkplug 3.0 chapter 5: NDEATH with the session's bdSeq
 * as its will, seq 0-255 shared by the node and its devices, subscribed to its NCMD/DCMD.
 */
export class TestEdgeNode {
  /** The next seq to send. */
  seq = 0;
  /** QoS of births, data and DDEATH (Sparkplug allows 0 or 1 for them). */
  qos: 0 | 1 = 0;
  readonly commands: { topic: string; payload: SpPayload }[] = [];
  /** Host STATE messages received (spBv1.0/STATE/#). */
  readonly states: { topic: string; state: { online: boolean; timestamp: number }; retain: boolean }[] = [];

  private constructor(
    readonly client: MqttClient,
    readonly group: string,
    readonly edge: string,
    readonly bdSeq: number,
  ) {
    client.on('message', (topic, payload, packet) => {
      if (topic.startsWith('spBv1.0/STATE/')) {
        this.states.push({ topic, state: JSON.parse(payload.toString()) as { online: boolean; timestamp: number }, retain: packet.retain });
        return;
      }
      const d = decodePayload(payload);
      if (d.ok) this.commands.push({ topic, payload: d.payload });
    });
  }

  static async connect(url: string, group: string, edge: string, bdSeq: number, opts: IClientOptions = {}): Promise<TestEdgeNode> {
    const will = { topic: `spBv1.0/${group}/NDEATH/${edge}`, payload: Buffer.from(deathPayload(bdSeq)), qos: 1 as const, retain: false };
    const client = await connect(url, { clientId: `${edge}-${bdSeq}`, will, clean: true, ...opts });
    const node = new TestEdgeNode(client, group, edge, bdSeq);
    await client.subscribeAsync([`spBv1.0/${group}/NCMD/${edge}`, `spBv1.0/${group}/DCMD/${edge}/+`, 'spBv1.0/STATE/#'], { qos: 1 });
    return node;
  }

  /** NBIRTH: seq 0, the bdSeq metric and Node Control/Rebirth first, then `metrics`. */
  async nbirth(metrics: MetricInit[], timestamp?: number): Promise<void> {
    this.seq = 0;
    const control: MetricInit[] = [
      { name: 'bdSeq', datatype: DataType.Int64, value: { case: 'longValue', value: BigInt(this.bdSeq) } },
      { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: { case: 'booleanValue', value: false } },
    ];
    await this.send('NBIRTH', undefined, [...control, ...metrics], timestamp);
  }

  async send(type: 'NBIRTH' | 'NDATA' | 'DBIRTH' | 'DDATA' | 'DDEATH', device: string | undefined, metrics: MetricInit[], timestamp?: number): Promise<void> {
    const seq = this.seq;
    this.seq = (this.seq + 1) & 255;
    const topic = `spBv1.0/${this.group}/${type}/${this.edge}${device === undefined ? '' : `/${device}`}`;
    const payload = encodePayload({ seq, metrics, ...(timestamp !== undefined ? { timestamp } : {}) });
    await this.client.publishAsync(topic, Buffer.from(payload), { qos: this.qos });
  }

  /** Publishes an NDEATH of another session (an old will) by hand. */
  async ndeath(bdSeq: number): Promise<void> {
    await this.client.publishAsync(`spBv1.0/${this.group}/NDEATH/${this.edge}`, Buffer.from(deathPayload(bdSeq)), { qos: 1 });
  }

  /** The connection dies without DISCONNECT: the broker publishes the will (the NDEATH). */
  kill(): void {
    this.client.stream.destroy();
    this.client.end(true);
  }

  async end(): Promise<void> {
    await this.client.endAsync();
  }
}

function deathPayload(bdSeq: number): Uint8Array {
  return encodePayload({ metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: { case: 'longValue', value: BigInt(bdSeq) } }] });
}

/** A Double metric, by name (births) or alias (data), with its own timestamp. */
export function double(
  ref: { name?: string; alias?: number },
  ts: number,
  value: number,
  extra: { isHistorical?: boolean; isTransient?: boolean; isNull?: boolean } = {},
): MetricInit {
  return {
    ...(ref.name !== undefined ? { name: ref.name, datatype: DataType.Double } : {}),
    ...(ref.alias !== undefined ? { alias: BigInt(ref.alias) } : {}),
    timestamp: BigInt(ts),
    value: { case: 'doubleValue', value },
    ...extra,
  };
}

/** The readings a list of sends should produce, for the reference windows. */
export const reading = (device: string, sensor: string, ts: number, value: number): Reading => ({ device, sensor, ts, value });

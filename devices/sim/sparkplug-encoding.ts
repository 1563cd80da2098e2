import type { IClientOptions } from 'mqtt';
import { decodePayload, encodePayload, type MetricInit } from '../../gateway/sparkplug/codec.js';
import { DataType } from '../../gateway/sparkplug/datatypes.js';
import { telemetryTopic } from '../../gateway/wire/topics.js';
import type { Outgoing, TelemetryMessage } from './faults.js';

/** One MQTT publish of a simulated device. */
export interface SimPublish {
  readonly topic: string;
  readonly payload: Buffer;
}

/**
 * How a simulated device speaks: the wire contract's JSON (the default) or Sparkplug B (`simulate --sparkplug`).
 * The fleet does the I/O; an encoding only turns what a device model produced into publishes.
 */
export interface WireEncoding {
  /** Extra MQTT.js options of the device's first connection (a will). */
  connectOptions(id: string): Partial<IClientOptions>;
  /** Topics to subscribe to once connected. */
  subscriptions(id: string): string[];
  /** Just (re)connected: what to publish first, and the will for the next connection (if it changes). */
  connected(id: string, now: number): { publishes: SimPublish[]; nextWill?: IClientOptions['will'] };
  encode(id: string, out: Outgoing): SimPublish[];
  /** A message on a subscribed topic: what to publish in answer. */
  command(id: string, topic: string, payload: Buffer, now: number): SimPublish[];
}

export const jsonEncoding: WireEncoding = {
  connectOptions: () => ({}),
  subscriptions: () => [],
  connected: () => ({ publishes: [] }),
  encode: (id, out) => [{ topic: telemetryTopic(id), payload: Buffer.from(JSON.stringify(out.payload)) }],
  command: () => [],
};

interface NodeState {
  bdSeq: number;
  seq: number;
  /** Encoded messages, so a resend (the `duplicates` fault) sends the same bytes, seq included. */
  readonly sent: WeakMap<TelemetryMessage, SimPublish>;
}

/**
 * Each simulated device is a Sparkplug B edge node `{id}` in `group`, with one device `{id}` (Sparkplug 3.0 chapter
 * 5): NBIRTH (bdSeq, Node Control/Rebirth) and DBIRTH (one Double metric per sensor, alias 1..n) on every
 * connection, DDATA by alias after, the NDEATH as its will, a new bdSeq for each connection, births again on a
 * `Node Control/Rebirth` NCMD. A backlog flushed after an outage goes out as DDATA with `is_historical`.
 */
export function sparkplugEncoding(group: string, sensors: readonly string[]): WireEncoding {
  const nodes = new Map<string, NodeState>();
  const node = (id: string): NodeState => {
    let n = nodes.get(id);
    if (n === undefined) nodes.set(id, (n = { bdSeq: 0, seq: 0, sent: new WeakMap() }));
    return n;
  };
  const bdSeqMetric = (b: number): MetricInit => ({ name: 'bdSeq', datatype: DataType.Int64, value: { case: 'longValue', value: BigInt(b) } });
  const will = (id: string, b: number): IClientOptions['will'] => ({
    topic: `spBv1.0/${group}/NDEATH/${id}`,
    payload: Buffer.from(encodePayload({ metrics: [bdSeqMetric(b)] })),
    qos: 1,
    retain: false,
  });
  const publish = (n: NodeState, topic: string, metrics: MetricInit[], timestamp: number): SimPublish => {
    const seq = n.seq;
    n.seq = (n.seq + 1) & 255;
    return { topic, payload: Buffer.from(encodePayload({ seq, timestamp, metrics })) };
  };
  const births = (id: string, n: NodeState, now: number): SimPublish[] => {
    n.seq = 0;
    return [
      publish(
        n,
        `spBv1.0/${group}/NBIRTH/${id}`,
        [bdSeqMetric(n.bdSeq), { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: { case: 'booleanValue', value: false } }],
        now,
      ),
      // No value yet: is_null (spec 6.4.6), which the gateway skips.
      publish(
        n,
        `spBv1.0/${group}/DBIRTH/${id}/${id}`,
        sensors.map((s, i) => ({ name: s, alias: BigInt(i + 1), datatype: DataType.Double, isNull: true })),
        now,
      ),
    ];
  };
  const data = (id: string, n: NodeState, m: TelemetryMessage, historical: boolean): SimPublish => {
    const metrics: MetricInit[] = [];
    sensors.forEach((s, i) => {
      const v = m.readings[s];
      if (v !== undefined)
        metrics.push({
          alias: BigInt(i + 1),
          timestamp: BigInt(m.ts),
          value: { case: 'doubleValue', value: v },
          ...(historical ? { isHistorical: true } : {}),
        });
    });
    return publish(n, `spBv1.0/${group}/DDATA/${id}/${id}`, metrics, m.ts);
  };
  return {
    connectOptions: (id) => ({ will: will(id, node(id).bdSeq) }),
    subscriptions: (id) => [`spBv1.0/${group}/NCMD/${id}`],
    connected(id, now) {
      const n = node(id);
      // The births carry this connection's bdSeq, the one its will carries...
      const publishes = births(id, n, now);
      // ...and the next connection the next one [tck-id-payloads-ndeath-bdseq].
      n.bdSeq = (n.bdSeq + 1) & 255;
      return { publishes, nextWill: will(id, n.bdSeq) };
    },
    encode(id, out) {
      const n = node(id);
      const messages = Array.isArray(out.payload) ? (out.payload as readonly TelemetryMessage[]) : [out.payload as TelemetryMessage];
      return messages.map((m) => {
        const again = n.sent.get(m);
        if (again !== undefined) return again;
        const p = data(id, n, m, out.kind === 'backlog');
        n.sent.set(m, p);
        return p;
      });
    },
    command(id, topic, payload, now) {
      const d = decodePayload(payload);
      if (!d.ok || !topic.endsWith(`/NCMD/${id}`)) return [];
      const rebirth = d.payload.metrics.some((m) => m.name === 'Node Control/Rebirth' && m.value.case === 'booleanValue' && m.value.value);
      if (!rebirth) return [];
      const n = node(id);
      // The current connection's bdSeq is the one before the next will's.
      const current = (n.bdSeq + 255) & 255;
      const saved = n.bdSeq;
      n.bdSeq = current;
      const out = births(id, n, now);
      n.bdSeq = saved;
      return out;
    },
  };
}

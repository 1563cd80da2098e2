import { describe, expect, it } from 'vitest';
import { AlertPublisher, alertPayload } from '../../../gateway/alerts/publisher.js';
import type { GatewayPublish } from '../../../gateway/broker/front.js';
import type { AlertEvent } from '../../../gateway/alerts/types.js';
import { createLogger } from '../../../gateway/log.js';
import type { OutPoint } from '../../../gateway/sink/point.js';

const event = (over: Partial<AlertEvent>): AlertEvent => ({
  device: 'd-1',
  sensor: 'temp',
  rule: 'hot',
  state: 'firing',
  severity: 'critical',
  value: 31,
  threshold: 30,
  ts: 1_000,
  since: 900,
  ...over,
});

function setup() {
  const points: OutPoint[] = [];
  const sent: { topic: string; qos: number; retain: boolean; payload: string }[] = [];
  const broker = {
    publish(p: GatewayPublish, cb: (err?: Error) => void) {
      sent.push({ topic: p.topic, qos: p.qos, retain: p.retain, payload: String(p.payload) });
      cb();
    },
  };
  const pub = new AlertPublisher({ outbox: { append: (p) => void points.push(...p) }, gatewayId: 'gw', log: createLogger('silent') });
  return { points, sent, broker, pub };
}

describe('AlertPublisher', () => {
  it('writes points at once, holds MQTT until the broker is attached, then sends the last state per topic', () => {
    const { points, sent, broker, pub } = setup();
    const fired = event({});
    const resolved = event({ state: 'resolved', value: 29, ts: 2_000, since: 2_000 });
    const other = event({ rule: 'warm', threshold: 25 });
    pub.publish([fired]);
    pub.publish([resolved, other]);
    expect(points.map((p) => [p.tags['rule'], p.fields['state'], p.time])).toEqual([
      ['hot', 'firing', 1_000],
      ['hot', 'resolved', 2_000],
      ['warm', 'firing', 1_000],
    ]);
    expect(sent).toEqual([]);

    pub.attach(broker);
    expect(sent).toEqual([
      { topic: 'alerts/d-1/temp/hot', qos: 1, retain: true, payload: alertPayload(resolved) },
      { topic: 'alerts/d-1/temp/warm', qos: 1, retain: true, payload: alertPayload(other) },
    ]);

    // Once attached, every event goes out at once; retain() sends MQTT without a point.
    pub.publish([fired]);
    pub.retain([other]);
    expect(sent.length).toBe(4);
    expect(points.length).toBe(4);
  });

  it('writes the alerts point layout: tags, a string state, no threshold field for noData', () => {
    const { points, pub } = setup();
    pub.publish([event({ rule: 'silent', threshold: null })]);
    expect(points).toEqual([
      {
        measurement: 'alerts',
        tags: { device: 'd-1', gateway: 'gw', rule: 'silent', sensor: 'temp', severity: 'critical' },
        fields: { state: 'firing', value: 31 },
        time: 1_000,
      },
    ]);
  });
});

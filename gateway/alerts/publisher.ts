import type { BrokerFront } from '../broker/front.js';
import type { Logger } from '../log.js';
import type { OutPoint } from '../sink/point.js';
import { alertTopic as topicOf } from '../wire/topics.js';
import type { AlertEvent } from './types.js';

/** MQTT topic of an alert's state; the retained message there is always the current state. */
export function alertTopic(e: AlertEvent): string {
  return topicOf(e.device, e.sensor, e.rule);
}

/** The JSON payload published on the alert topic (documented in docs/alerts.md). */
export function alertPayload(e: AlertEvent): string {
  return JSON.stringify({
    device: e.device,
    sensor: e.sensor,
    rule: e.rule,
    state: e.state,
    severity: e.severity,
    value: e.value,
    threshold: e.threshold,
    ts: e.ts,
    since: e.since,
  });
}

/** The `alerts` measurement: one point per state change, so Grafana can draw annotations even after an outage. */
export function alertToPoint(e: AlertEvent, gatewayId: string): OutPoint {
  const fields: Record<string, number | string> = { state: e.state, value: e.value };
  if (e.threshold !== null) fields['threshold'] = e.threshold;
  return {
    measurement: 'alerts',
    tags: { device: e.device, gateway: gatewayId, rule: e.rule, sensor: e.sensor, severity: e.severity },
    fields,
    time: e.ts,
  };
}

export interface AlertPublisherDeps {
  /** The same outbox as the window points, so alert points survive an InfluxDB outage in order with the data. */
  readonly outbox: { append(points: readonly OutPoint[]): void };
  readonly gatewayId: string;
  readonly log: Logger;
}

/**
 * Sends alert events out. The AlertService calls it synchronously from the reading hot path, the tick and
 * rule reloads; it never throws. The broker is attached after the gateway has restored its state (and
 * replayed its ingest log after a crash), so MQTT messages produced before that wait. No client can be
 * subscribed yet then, so only the retained result is observable: the wait queue keeps the last message per
 * topic, which bounds it by the number of alerts however long the replay.
 */
export class AlertPublisher {
  private broker: Pick<BrokerFront, 'publish'> | null = null;
  private queued = new Map<string, AlertEvent>();

  constructor(private readonly deps: AlertPublisherDeps) {}

  attach(broker: Pick<BrokerFront, 'publish'>): void {
    this.broker = broker;
    const queued = this.queued;
    this.queued = new Map();
    for (const e of queued.values()) this.send(broker, e);
  }

  /** State changes: an `alerts` point each, and the retained MQTT message. */
  publish(events: readonly AlertEvent[]): void {
    this.deps.outbox.append(events.map((e) => alertToPoint(e, this.deps.gatewayId)));
    this.retain(events);
  }

  /**
   * MQTT only: sets the retained current state without recording a change (no point). Used at start: with
   * mqtt.sessions: memory a restarted broker has forgotten its retained messages; with disk this rewrites them.
   */
  retain(events: readonly AlertEvent[]): void {
    const broker = this.broker;
    for (const e of events) {
      if (broker) this.send(broker, e);
      else this.queued.set(alertTopic(e), e);
    }
  }

  private send(broker: Pick<BrokerFront, 'publish'>, e: AlertEvent): void {
    const topic = alertTopic(e);
    // QoS 1 + retain: a subscriber that connects later still learns the current state [MQTT-3.3.1-5].
    broker.publish({ topic, payload: Buffer.from(alertPayload(e)), qos: 1, retain: true }, (err) => {
      if (err) this.deps.log.warn({ err, topic }, 'alert publish failed');
    });
  }
}

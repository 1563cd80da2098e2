import type { OutPoint } from '../sink/point.js';
import type { AlertEvent } from './types.js';

/** MQTT topic of an alert's state; the retained message there is always the current state. */
export function alertTopic(e: AlertEvent): string {
  return `alerts/${e.device}/${e.sensor}/${e.rule}`;
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

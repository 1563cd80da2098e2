import type { AclDecision } from './acl-decision.js';
import { ALERTS_ROOT, DEVICES_ROOT } from '../wire/topics.js';
import { NAMESPACE } from '../sparkplug/topic.js';

/**
 * Roles of registry entries (devices.yaml `role:`):
 *
 * - `device` (the default): a sensor that publishes its own readings below `devices/{id}/` and reads only its own
 *   trees (acl.ts).
 * - `reader`: a dashboard, Node-RED flow or alert forwarder. It may subscribe to `devices/#`, `alerts/#` and
 *   `spBv1.0/#` (Sparkplug B births, data, deaths, commands and host STATE: what a Sparkplug dashboard watches) and
 *   any narrower filter of those, and publishes nothing: it can neither inject readings, forge alerts, send
 *   Sparkplug commands nor claim a host STATE. It needs a credential, so it works with `auth.anonymous: deny`.
 */
export const ROLES = ['device', 'reader'] as const;
export type Role = (typeof ROLES)[number];

/**
 * `$share/{group}/{filter}` [MQTT-4.8.2] is an MQTT 5 shared subscription. aedes 1.2 (MQTT 3.1.1) has no shared
 * subscriptions: it would keep the filter as a literal one that matches no topic, so the ACL refuses it instead
 * (SUBACK 0x80) and says why.
 */
export function isSharedSubscription(filter: string): boolean {
  return filter.startsWith('$share/');
}

const ALLOW: AclDecision = { ok: true };
const SPARKPLUG_ROOT = NAMESPACE.slice(0, -1); // 'spBv1.0'
const SHARED: AclDecision = { ok: false, reason: 'subscribe_denied', detail: 'shared subscriptions ($share/...) are not supported by this broker' };

/** True when `filter` matches nothing outside `root/#` (see isWithin in acl.ts; repeated here to keep one import direction). */
function within(filter: string, root: string): boolean {
  return filter.startsWith(root) && (filter.length === root.length || filter.charCodeAt(root.length) === 47); // 47: '/'
}

export function readerCanSubscribe(filter: string): AclDecision {
  if (isSharedSubscription(filter)) return SHARED;
  if (within(filter, DEVICES_ROOT) || within(filter, ALERTS_ROOT) || within(filter, SPARKPLUG_ROOT)) return ALLOW;
  return { ok: false, reason: 'subscribe_denied', detail: 'readers may subscribe only to devices/#, alerts/# and spBv1.0/# and narrower filters' };
}

const READER_PUBLISH: AclDecision = { ok: false, reason: 'publish_denied', detail: 'readers publish nothing' };

export function readerCanPublish(): AclDecision {
  return READER_PUBLISH;
}

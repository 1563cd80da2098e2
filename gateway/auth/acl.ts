import type { AclDecision } from './acl-decision.js';
/**
 * Topic access rules, as pure functions of who the client is and the topic or filter. Called by the broker for
 * every PUBLISH (hot path: no allocation beyond a string compare) and for every SUBSCRIBE filter.
 *
 * - A device may publish only below `devices/{id}/`, and subscribe only to filters that match nothing outside
 *   `devices/{id}/#` and `alerts/{id}/#` (its own data and its own alerts).
 * - An anonymous client (a local tool, see auth.anonymous) may publish anywhere below `devices/` (it can inject
 *   test data for any device) and subscribe below `devices/` and `alerts/` (monitoring); it may not publish on
 *   `alerts/` (only the gateway does) nor subscribe to `#`, `$SYS/#` or any other tree.
 * - Sparkplug B (`spBv1.0/...`): a device whose id is an edge node id publishes that node's births, data and
 *   deaths and subscribes to its commands and host state; anonymous clients may for any edge node and may also
 *   watch the whole `spBv1.0/` tree (sparkplug-acl.ts).
 * - A reader (a registry entry with `role: reader`, roles.ts) subscribes to `devices/#`, `alerts/#` and `spBv1.0/#`
 *   and publishes nothing.
 */
import { readerCanPublish, readerCanSubscribe } from './roles.js';
import { ALERTS_ROOT, DEVICES_ROOT } from '../wire/topics.js';
import { sparkplugMayPublish, sparkplugMaySubscribe } from './sparkplug-acl.js';

export type Principal =
  | { readonly kind: 'device'; readonly id: string; readonly via: 'password' | 'certificate' }
  | { readonly kind: 'reader'; readonly id: string; readonly via: 'password' | 'certificate' }
  | { readonly kind: 'anonymous' };

export type { AclDecision } from './acl-decision.js';

const ALLOW: AclDecision = { ok: true };
const DEVICES = `${DEVICES_ROOT}/`;

export function canPublish(who: Principal, topic: string): AclDecision {
  if (who.kind === 'reader') return readerCanPublish();
  if (who.kind === 'anonymous') {
    if (topic.startsWith(DEVICES) && topic.length > DEVICES.length) return ALLOW;
    if (sparkplugMayPublish(undefined, topic)) return ALLOW;
    return { ok: false, reason: 'publish_denied', detail: 'anonymous clients may publish only below devices/ and Sparkplug births, data and deaths' };
  }
  // `devices/{id}/x`: the id level must be exactly the device's id and something must follow it.
  const prefixLen = DEVICES.length + who.id.length;
  if (topic.length > prefixLen + 1 && topic.startsWith(DEVICES) && topic.startsWith(who.id, DEVICES.length) && topic.charCodeAt(prefixLen) === 47 /* '/' */) {
    return ALLOW;
  }
  if (topic.charCodeAt(0) === 115 /* s */ && sparkplugMayPublish(who.id, topic)) return ALLOW;
  return { ok: false, reason: 'publish_denied', detail: `device may publish only below devices/${who.id}/ and as Sparkplug edge node ${who.id}` };
}

/**
 * True when every topic matched by `filter` is also matched by `root/#`, where root has no wildcards: the filter's
 * levels must start with root's levels literally (a `+` or `#` there could match another device). `root` itself is
 * matched by `root/#` [MQTT-4.7.1-2], so the filter `root` is narrower too.
 */
export function isWithin(filter: string, root: string): boolean {
  if (!filter.startsWith(root)) return false;
  return filter.length === root.length || filter.charCodeAt(root.length) === 47;
}

export function canSubscribe(who: Principal, filter: string): AclDecision {
  if (who.kind === 'reader') return readerCanSubscribe(filter);
  if (who.kind === 'anonymous') {
    if (isWithin(filter, DEVICES_ROOT) || isWithin(filter, ALERTS_ROOT) || isWithin(filter, 'spBv1.0')) return ALLOW;
    return { ok: false, reason: 'subscribe_denied', detail: 'anonymous clients may subscribe only below devices/, alerts/ and spBv1.0/' };
  }
  if (isWithin(filter, `${DEVICES_ROOT}/${who.id}`) || isWithin(filter, `${ALERTS_ROOT}/${who.id}`) || sparkplugMaySubscribe(who.id, filter)) return ALLOW;
  return { ok: false, reason: 'subscribe_denied', detail: `device may subscribe only to devices/${who.id}/# and alerts/${who.id}/#` };
}

/**
 * Topic access rules, as pure functions of who the client is and the topic or filter. Called by the broker for
 * every PUBLISH (hot path: no allocation beyond a string compare) and for every SUBSCRIBE filter.
 *
 * - A device may publish only below `devices/{id}/`, and subscribe only to filters that match nothing outside
 *   `devices/{id}/#` and `alerts/{id}/#` (its own data and its own alerts).
 * - An anonymous client (a local tool, see auth.anonymous) may publish anywhere below `devices/` (it can inject
 *   test data for any device) and subscribe below `devices/` and `alerts/` (monitoring); it may not publish on
 *   `alerts/` (only the gateway does) nor subscribe to `#`, `$SYS/#` or any other tree.
 * - A reader (a registry entry with `role: reader`, roles.ts) subscribes to `devices/#` and `alerts/#` and publishes
 *   nothing.
 */
import { readerCanPublish, readerCanSubscribe } from './roles.js';

export type Principal =
  | { readonly kind: 'device'; readonly id: string; readonly via: 'password' | 'certificate' }
  | { readonly kind: 'reader'; readonly id: string; readonly via: 'password' | 'certificate' }
  | { readonly kind: 'anonymous' };

export type AclDecision = { readonly ok: true } | { readonly ok: false; readonly reason: 'publish_denied' | 'subscribe_denied'; readonly detail: string };

const ALLOW: AclDecision = { ok: true };

export function canPublish(who: Principal, topic: string): AclDecision {
  if (who.kind === 'reader') return readerCanPublish();
  if (who.kind === 'anonymous') {
    if (topic.startsWith('devices/') && topic.length > 'devices/'.length) return ALLOW;
    return { ok: false, reason: 'publish_denied', detail: 'anonymous clients may publish only below devices/' };
  }
  // `devices/{id}/x`: the id level must be exactly the device's id and something must follow it.
  const prefixLen = 8 + who.id.length; // 'devices/'.length + id
  if (
    topic.length > prefixLen + 1 &&
    topic.startsWith('devices/') &&
    topic.startsWith(who.id, 8) &&
    topic.charCodeAt(prefixLen) === 47 /* '/' */
  ) {
    return ALLOW;
  }
  return { ok: false, reason: 'publish_denied', detail: `device may publish only below devices/${who.id}/` };
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
    if (isWithin(filter, 'devices') || isWithin(filter, 'alerts')) return ALLOW;
    return { ok: false, reason: 'subscribe_denied', detail: 'anonymous clients may subscribe only below devices/ and alerts/' };
  }
  if (isWithin(filter, `devices/${who.id}`) || isWithin(filter, `alerts/${who.id}`)) return ALLOW;
  return { ok: false, reason: 'subscribe_denied', detail: `device may subscribe only to devices/${who.id}/# and alerts/${who.id}/#` };
}

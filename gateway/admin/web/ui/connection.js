// @ts-check
/**
 * What the page knows of the gateway: reachable (its live stream is open) or not, since when. The sensors view
 * sets it from its EventSource; the banner, the tables (stale values, frozen ages) and the Save button follow it.
 *
 * @typedef {{ up: boolean, since: number, everUp: boolean }} GatewayState
 */

/** @type {Set<(s: GatewayState) => void>} */
const listeners = new Set();
/** @type {GatewayState} */
let state = { up: false, since: Date.now(), everUp: false };

/** @param {boolean} up */
export function setGatewayUp(up) {
  if (state.up === up && state.everUp) return;
  state = { up, since: up === state.up ? state.since : Date.now(), everUp: state.everUp || up };
  for (const fn of listeners) fn(state);
}

/** @param {(s: GatewayState) => void} fn */
export function onGateway(fn) {
  listeners.add(fn);
  fn(state);
}

export function gatewayState() {
  return state;
}

/** The gateway's health as the live stream last sent it (the `health` event: what /health gives, and more). */
/** @type {Set<(h: Record<string, any>, now: number) => void>} */
const healthListeners = new Set();
/** @param {Record<string, any>} h @param {number} now */
export function setHealth(h, now) {
  for (const fn of healthListeners) fn(h, now);
}
/** @param {(h: Record<string, any>, now: number) => void} fn */
export function onHealth(fn) {
  healthListeners.add(fn);
}

/** The alerts firing now, as the live stream last sent them. */
/** @type {Set<(firing: any[]) => void>} */
const firingListeners = new Set();
/** @param {any[]} firing */
export function setFiringList(firing) {
  for (const fn of firingListeners) fn(firing);
}
/** @param {(firing: any[]) => void} fn */
export function onFiring(fn) {
  firingListeners.add(fn);
}

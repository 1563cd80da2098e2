import type { Aedes } from 'aedes';

/** The part of qlobber that mqemitter uses to route a publish to its subscribers (qlobber's README: the API). */
interface Matcher {
  match(topic: string): unknown[];
  add(topic: string, value: unknown): unknown;
  remove(topic: string, value?: unknown): unknown;
  clear(): unknown;
  /** qlobber's trie: a Map from the first level of every filter it holds to the rest (emptied branches removed). */
  get_trie(): ReadonlyMap<string, unknown>;
}

const isMatcher = (m: unknown): m is Matcher =>
  typeof m === 'object' && m !== null && ['match', 'add', 'remove', 'clear', 'get_trie'].every((k) => typeof (m as Record<string, unknown>)[k] === 'function');

/**
 * Who may ever see a publish on a topic: false only when no subscription the broker has held since it started
 * could match it, live or since gone. A subscription of a persistent session (clean=false) stays in the session
 * store after its client left [MQTT-3.1.2-5] and aedes queues QoS 1 publishes for it; it went through the emitter
 * while its client was connected, so remembering every first level ever subscribed covers it too. (Sessions
 * restored from disk at a start have not: a broker with a session store uses EVERYONE.)
 */
export interface Audience {
  mayReach(topic: string): boolean;
}

export const EVERYONE: Audience = { mayReach: () => true };

/** The matches of a topic no filter can reach; mqemitter only iterates the array it is given. */
const NONE: unknown[] = [];
/** Beyond this many distinct first levels among the filters, the reach test costs more than the cache lookup. */
const MAX_FIRST_LEVELS = 8;

/**
 * Remembers, per topic, which subscriptions a publish on it reaches, until any subscription changes. Devices
 * publish on the same few topics all day while subscriptions change rarely, and aedes routes every publish
 * (even one nobody subscribes to) by splitting its topic into levels and walking qlobber's trie: ~9 % of the
 * broker thread's time under load. The result arrays are qlobber's own, never mutated by mqemitter.
 *
 * Before the cache, a cheaper test: a filter can match a topic only if its first level is a wildcard or equals
 * the topic's first level [MQTT-4.7.1]. While no filter starts with a wildcard and only a few first levels are
 * subscribed (aedes' own `$SYS/+/...` listeners, say, and `alerts/#`), a topic under none of them (every ingest
 * publish when nobody watches `devices/...`) reaches nobody without the cache's `Map` lookup, which hashes the
 * publish's new topic string each time (4 % of the broker thread at full load: BENCHMARKS.md, "The broker
 * thread's cost per publish"). The first levels are read off qlobber's trie after each change of subscriptions.
 *
 * Reaches into aedes' mqemitter (`broker.mq._matcher`, mqemitter 7); returns undefined and changes nothing when
 * it is not there, so another version routes uncached, not wrongly. Otherwise returns the broker's Audience: the
 * first levels of every filter added since (never forgotten, so it only ever widens).
 */
export function cacheRoutes(broker: Aedes, maxTopics = 10_000): Audience | undefined {
  const m = (broker as unknown as { mq?: { _matcher?: unknown } }).mq?._matcher;
  if (!isMatcher(m)) return undefined;
  const cache = new Map<string, unknown[]>();
  const match = m.match.bind(m);
  const add = m.add.bind(m);
  const remove = m.remove.bind(m);
  const clear = m.clear.bind(m);
  /** First levels of the filters, or undefined when the test does not apply (a wildcard first, or too many). */
  let firstLevels: string[] | undefined;
  let changed = true;
  const readFirstLevels = () => {
    changed = false;
    const levels = [...m.get_trie().keys()];
    // '+' and '#' match any first level; qlobber keeps a filter's values under its separator ('/'), which at the
    // root would be a filter of no level at all: not something to reason about, so no shortcut either.
    const open = levels.length > MAX_FIRST_LEVELS || levels.some((l) => l === '+' || l === '#' || l === '/');
    firstLevels = open ? undefined : levels;
  };
  // Every first level ever subscribed (aedes' own `$SYS/+/...` listeners are there before any client), or
  // undefined once one was a wildcard or too many to test.
  let everLevels: string[] | undefined = [];
  const remember = (filter: string) => {
    if (everLevels === undefined) return;
    const slash = filter.indexOf('/');
    const level = slash < 0 ? filter : filter.slice(0, slash);
    if (everLevels.includes(level)) return;
    if (level === '+' || level === '#' || everLevels.length >= MAX_FIRST_LEVELS) everLevels = undefined;
    else everLevels.push(level);
  };
  for (const level of m.get_trie().keys()) remember(level === '/' ? '#' : level);
  const reachable = (topic: string, levels: readonly string[]) => {
    for (const level of levels) {
      const n = level.length;
      // The topic's first level is `level`: it starts with it, followed by '/' or nothing.
      if (topic.startsWith(level) && (topic.length === n || topic.charCodeAt(n) === 47)) return true;
    }
    return false;
  };
  m.match = (topic) => {
    if (changed) readFirstLevels();
    if (firstLevels !== undefined && !reachable(topic, firstLevels)) return NONE;
    let found = cache.get(topic);
    if (found === undefined) {
      found = match(topic);
      if (cache.size >= maxTopics) cache.clear();
      cache.set(topic, found);
    }
    return found;
  };
  m.add = (topic, value) => {
    cache.clear();
    changed = true;
    remember(topic);
    return add(topic, value);
  };
  m.remove = (...args: [string, unknown?]) => {
    cache.clear();
    changed = true;
    return remove(...args);
  };
  m.clear = () => {
    cache.clear();
    changed = true;
    return clear();
  };
  return { mayReach: (topic) => everLevels === undefined || reachable(topic, everLevels) };
}

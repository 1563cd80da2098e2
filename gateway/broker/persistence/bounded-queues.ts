/**
 * A bound on the messages stored for one persistent session (mqtt.maxQueuedPerSession). aedes appends every QoS 1/2
 * publish to the queue of each matching clean=false session [MQTT-3.1.2-5] and has no limit of its own, so one
 * dashboard that subscribed to `devices/#` and went away would grow the store without end.
 *
 * Wraps the three persistence calls that change a queue, on the persistence instance aedes is given:
 * - `outgoingEnqueueCombi(subs, packet)` (aedes routing a publish to the stored sessions): a session whose queue is
 *   full does not get the message (the newest is dropped, the older ones stay, in order); `onDrop` counts it.
 * - `outgoingEnqueue(sub, packet)` (a connected session's delivery): counted, never refused (aedes would fail the
 *   delivery); a connected subscriber that stops reading is cut off by mqtt.drainTimeout instead.
 * - `outgoingClearMessageId(client, packet)` (PUBACK from the subscriber, or a clean session draining): uncounted.
 *
 * A message is identified as aedes keys it (broker id + broker counter), so the same message enqueued twice for
 * a connected persistent session (aedes does both calls for it) counts once. Each session's set is loaded from the
 * store on first use after a start, so the bound holds across restarts. Memory: at most `max` ids per session.
 */
export interface QueuedPacket {
  readonly brokerId?: string;
  readonly brokerCounter?: number;
}

export interface QueuePersistence {
  outgoingEnqueue(sub: { clientId: string }, packet: QueuedPacket): Promise<unknown>;
  outgoingEnqueueCombi(subs: readonly { clientId: string }[] | null | undefined, packet: QueuedPacket): Promise<unknown>;
  outgoingClearMessageId(client: { id: string }, packet: unknown): Promise<QueuedPacket | undefined>;
  outgoingStream(client: { id: string }): AsyncIterable<QueuedPacket>;
}

const keyOf = (p: QueuedPacket | undefined) => `${p?.brokerId ?? ''}:${p?.brokerCounter ?? ''}`;

export function boundSessionQueues(p: QueuePersistence, max: number, onDrop: (clientId: string) => void): void {
  const queued = new Map<string, Set<string>>();
  const loading = new Map<string, Promise<Set<string>>>();

  async function load(clientId: string): Promise<Set<string>> {
    const keys = new Set<string>();
    for await (const packet of p.outgoingStream({ id: clientId })) keys.add(keyOf(packet));
    return keys;
  }

  function setOf(clientId: string): Set<string> | Promise<Set<string>> {
    const known = queued.get(clientId);
    if (known) return known;
    let pending = loading.get(clientId);
    if (!pending) {
      pending = load(clientId).then((keys) => {
        loading.delete(clientId);
        // Enqueued while the store was read: already in `keys` or added below by the caller.
        const set = queued.get(clientId) ?? keys;
        queued.set(clientId, set);
        return set;
      });
      loading.set(clientId, pending);
    }
    return pending;
  }

  const enqueue = p.outgoingEnqueue.bind(p);
  const enqueueCombi = p.outgoingEnqueueCombi.bind(p);
  const clear = p.outgoingClearMessageId.bind(p);

  p.outgoingEnqueueCombi = async (subs, packet) => {
    // The common case, a publish that no stored session wants, stays one call without an await.
    if (!subs || subs.length === 0) return enqueueCombi(subs, packet);
    const key = keyOf(packet);
    const sets = await Promise.all(subs.map((s) => setOf(s.clientId)));
    const kept = subs.filter((s, i) => {
      const set = sets[i]!;
      if (set.has(key)) return true;
      if (set.size >= max) {
        onDrop(s.clientId);
        return false;
      }
      set.add(key);
      return true;
    });
    return enqueueCombi(kept, packet);
  };

  p.outgoingEnqueue = async (sub, packet) => {
    (await setOf(sub.clientId)).add(keyOf(packet));
    return enqueue(sub, packet);
  };

  p.outgoingClearMessageId = async (client, packet) => {
    const cleared = await clear(client, packet);
    if (cleared) queued.get(client.id)?.delete(keyOf(cleared));
    return cleared;
  };
}

import type { Client } from 'aedes';
import { ConnectionCounts } from '../connection-counts.js';

type Done = (err?: Error | null) => void;

/** A publish in a client's queue: on this path (`messageId`) or aedes' (`done`); `result` once its outcome is known. */
interface Turn {
  result: Error | null | undefined;
  readonly messageId: number;
  readonly done: Done | undefined;
}

/**
 * QoS 1 ingest publishes that no subscriber can receive, acknowledged by the broker thread itself once the gateway
 * has logged them, so that aedes is done with each at once.
 *
 * Held the usual way, a QoS 1 publish keeps aedes' whole per-publish state alive until the gateway's group
 * commit acknowledges it (the parsed packet and its payload view, the closures of aedes' publish series): with a
 * few thousand in flight they survive two scavenges, are promoted, and the broker thread spent a third of its
 * time in the garbage collector at full QoS 1 load, with V8's marking threads on top (BENCHMARKS.md, "The broker
 * thread's cost per publish"). For a publish nobody can receive (route-cache.ts Audience) the broker thread
 * instead lowers the packet to QoS 0 in the publish hook (aedes' documented way to change a publish there), so
 * aedes routes it to nobody and forgets it, and keeps only the client and the packet id here; when the gateway
 * acknowledges, it writes the PUBACK [MQTT-3.4] itself, on the client's connection (aedes' `client.conn`).
 *
 * What MQTT asks of the PUBACK stays true: it is sent only after the gateway logged the publish, once, and in
 * the order the publishes came [MQTT-4.6.0-2]: while a client has publishes on this path, each of its QoS >= 1
 * publishes (on this path, through the ring the usual way, or on a topic aedes would acknowledge at once) takes
 * its place in one queue of the client's, and is answered (a PUBACK written here, or aedes' callback called, which
 * writes aedes' own into the same stream) only when every one before it was. A failure closes the connection
 * without PUBACK, as aedes does when the gate fails a publish. A client that disconnects first gets nothing and
 * sends the publish again (DUP) on its next session [MQTT-4.4.0-1]. Backpressure: aedes reads no further from a
 * client while one of its publishes is held, and here nothing is held; so each client has at most `perClient`
 * publishes waiting on this path, and the next one is held by aedes as before until the gateway catches up.
 */
export class OwnPubacks {
  /** Per client, its publishes on this path; a client is forgotten when it has none (every one is answered). */
  private readonly waiting: ConnectionCounts<Client>;
  /** Per client with publishes on this path unanswered: all its QoS >= 1 publishes since, in the order they came. */
  private readonly queues = new Map<Client, Turn[]>();

  constructor(perClient: number) {
    this.waiting = new ConnectionCounts<Client>(perClient);
  }

  /** Takes one of the client's places on this path; false when all are taken. */
  take(client: Client): boolean {
    return this.waiting.take(client);
  }

  /** Gives back a place taken for a publish that went the usual way after all. */
  give(client: Client): void {
    this.waiting.release(client);
  }

  /** Queues a publish taken on this path; what the ack table calls for it: the PUBACK, or the connection closed. */
  waiter(client: Client, messageId: number): Done {
    return this.enqueue(client, messageId, undefined);
  }

  /**
   * The callback to hand aedes for a QoS >= 1 publish of `client` that does not go this path: `done` itself when
   * nothing of the client's is queued, else one that answers aedes in the publish's turn [MQTT-4.6.0-2, 4.6.0-3].
   */
  ordered(client: Client, done: Done): Done {
    if (!this.queues.has(client)) return done;
    return this.enqueue(client, 0, done);
  }

  /** Puts a publish at the end of the client's queue; the callback that records its outcome and answers in turn. */
  private enqueue(client: Client, messageId: number, done: Done | undefined): Done {
    const turn: Turn = { result: undefined, messageId, done };
    const queue = this.queues.get(client);
    if (queue === undefined) this.queues.set(client, [turn]);
    else queue.push(turn);
    return (err) => {
      turn.result = err ?? null;
      this.release(client);
    };
  }

  /** Answers the client's publishes from the front of its queue while their outcome is known. */
  private release(client: Client): void {
    const queue = this.queues.get(client);
    if (queue === undefined) return;
    while (queue.length > 0 && queue[0]!.result !== undefined) {
      const turn = queue.shift()!;
      if (turn.done !== undefined) turn.done(turn.result);
      else {
        this.waiting.release(client);
        if (turn.result) client.conn.destroy(turn.result);
        else writePuback(client, turn.messageId);
      }
    }
    if (queue.length === 0) this.queues.delete(client);
  }
}

/**
 * PUBACK: fixed header 0x40, remaining length 2, the packet identifier [MQTT-3.4.1, 3.4.2]. Corked until the end
 * of this tick, as mqtt-packet corks aedes' own writes, so the PUBACKs of one batch of acknowledgements leave in
 * one write. Nothing goes to a connection that is closing or closed.
 */
function writePuback(client: Client, messageId: number): void {
  const conn = client.conn;
  if (conn.destroyed || !conn.writable) return;
  const packet = Buffer.allocUnsafe(4);
  packet[0] = 0x40;
  packet[1] = 2;
  packet[2] = messageId >> 8;
  packet[3] = messageId & 0xff;
  if (conn.writableCorked === 0) {
    conn.cork();
    process.nextTick(uncork, conn);
  }
  conn.write(packet);
}

const uncork = (conn: Client['conn']) => conn.uncork();

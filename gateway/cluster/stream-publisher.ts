import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** Why a publish was not stored. */
export class StreamPublishError extends Error {}

interface Waiting {
  readonly resolve: (err: StreamPublishError | undefined) => void;
  readonly at: number;
}

/**
 * JetStream publishes with their acknowledgements collected on one wildcard subscription (`{inbox}.{n}` as the
 * reply subject of publish n), swept for timeouts once a second. It does what `js.publish` does (a request per
 * publish, the stream's ack or error as the reply) without a request object, a timer and two Error objects per
 * publish: @nats-io/nats-core 3.4.0 builds a RequestError for every request it settles (`cancel()`), which
 * measured a fifth of a cluster node's CPU (BENCHMARKS.md, "A cluster node").
 * The ack is JetStream's PubAck JSON (`{"stream","seq","duplicate"?}`) or `{"error":{"code","description"}}`;
 * no responders (no stream leader for the moment) is an empty reply with status 503 (NATS ADR-2).
 */
export class StreamPublisher {
  private readonly inbox = createInbox();
  private readonly waiting = new Map<number, Waiting>();
  private readonly sub: Subscription;
  private readonly sweeper: NodeJS.Timeout;
  private next = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, m) => {
        if (err !== null) return;
        const id = Number(m.subject.slice(this.inbox.length + 1));
        const w = this.waiting.get(id);
        if (w === undefined) return;
        this.waiting.delete(id);
        if (m.data.length === 0)
          return w.resolve(new StreamPublishError(m.headers?.code === 503 ? 'no responders (no stream leader)' : `empty reply (${m.headers?.code ?? '?'})`));
        try {
          const ack = JSON.parse(new TextDecoder().decode(m.data)) as { error?: { description?: string }; seq?: number };
          w.resolve(
            ack.error !== undefined
              ? new StreamPublishError(ack.error.description ?? 'JetStream error')
              : typeof ack.seq === 'number'
                ? undefined
                : new StreamPublishError('invalid ack'),
          );
        } catch {
          w.resolve(new StreamPublishError('invalid ack'));
        }
      },
    });
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, timeoutMs));
    this.sweeper.unref();
  }

  /** Resolves with undefined once the stream stored the message, or with the error (never rejects). */
  publish(subject: string, payload: Uint8Array, headers: MsgHdrs): Promise<StreamPublishError | undefined> {
    const id = ++this.next;
    return new Promise((resolve) => {
      this.waiting.set(id, { resolve, at: Date.now() });
      try {
        this.nc.publish(subject, payload, { reply: `${this.inbox}.${id}`, headers });
      } catch (err) {
        this.waiting.delete(id);
        resolve(new StreamPublishError(err instanceof Error ? err.message : String(err)));
      }
    });
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    for (const w of this.waiting.values()) w.resolve(new StreamPublishError('closed'));
    this.waiting.clear();
  }

  private sweep(): void {
    const limit = Date.now() - this.timeoutMs;
    // Insertion order is publish order: the oldest are first.
    for (const [id, w] of this.waiting) {
      if (w.at > limit) break;
      this.waiting.delete(id);
      w.resolve(new StreamPublishError('timeout'));
    }
  }
}

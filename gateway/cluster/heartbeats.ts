import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';

/** Who is alive, for each gateway's fair share of the partitions (coordinator.ts). */
export interface Membership {
  /** Writes this node's heartbeat. */
  beat(now: number): Promise<void>;
  /** The nodes whose heartbeat has not expired, this one included. */
  alive(): Promise<number>;
  /** A graceful stop: counted out at once instead of after the TTL. */
  leave(): Promise<void>;
}

/**
 * Heartbeats in a KV bucket whose entries expire with the leases' TTL, one key per node id. The keys are read from
 * the bucket's stream info (its subjects), not listed with `keys()`: a listing is an ephemeral consumer to
 * create, and after a NATS server of three is killed (test/cluster/nats-failover.test.ts) nats-server 2.9 leaves
 * many of those creations unanswered for minutes (measured, 1 s timeout, one listing a second: 12 of 28 and 4 of 25
 * timed out between 13 and 53 s after the kill, while writes, direct gets and stream info answered every time).
 */
export class KvHeartbeats implements Membership {
  private readonly prefix: string;

  constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
    private readonly nodeId: string,
  ) {
    this.prefix = `$KV.${bucket}.`;
  }

  async beat(now: number): Promise<void> {
    await this.kv.put(this.nodeId, String(now));
  }

  async alive(): Promise<number> {
    const info = await this.jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${this.prefix}>` });
    const others = Object.keys(info.state.subjects ?? {})
      .map((subject) => subject.slice(this.prefix.length))
      .filter((key) => key !== this.nodeId);
    // A stopped node's key keeps its delete marker until the TTL: count live entries only.
    const entries = await Promise.all(others.map((key) => this.kv.get(key)));
    return 1 + entries.filter((e) => e?.operation === 'PUT').length;
  }

  async leave(): Promise<void> {
    await this.kv.delete(this.nodeId);
  }
}

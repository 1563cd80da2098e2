/**
 * Open connections per key (a source address, a device id), each at most `max`: mqtt.maxConnectionsPerAddress
 * (listeners.ts, before aedes sees the socket) and mqtt.maxConnectionsPerDevice (broker.ts, after authentication).
 * A slot is taken when the connection is admitted and given back when its socket closes, so connections still
 * being set up count too and a burst of them cannot overshoot. Keys with no connection are forgotten.
 * The same slots count a client's QoS 1 publishes waiting for the broker thread's own PUBACK (own-pubacks.ts).
 */
export class ConnectionCounts<K = string> {
  private readonly open = new Map<K, number>();

  constructor(readonly max: number) {}

  /** Takes a slot for `key`; false (and nothing taken) when it holds `max` already. */
  take(key: K): boolean {
    const n = this.open.get(key) ?? 0;
    if (n >= this.max) return false;
    this.open.set(key, n + 1);
    return true;
  }

  release(key: K): void {
    const n = this.open.get(key);
    if (n === undefined) return;
    if (n <= 1) this.open.delete(key);
    else this.open.set(key, n - 1);
  }

  /** Takes a slot and gives it back when `conn` closes; false when refused. A connection closed already takes none. */
  takeFor(key: K, conn: { readonly destroyed: boolean; once(event: 'close', f: () => void): unknown }): boolean {
    if (conn.destroyed) return true;
    if (!this.take(key)) return false;
    conn.once('close', () => this.release(key));
    return true;
  }

  count(key: K): number {
    return this.open.get(key) ?? 0;
  }
}

/**
 * The broker thread's QoS 1 publishes waiting for the gateway's acknowledgement, by ack id. Ids are handed out
 * in sequence (1, 2, ... wrapping at 2^32 - 1) and mostly come back in the same order (the ingest journal logs
 * and acknowledges in arrival order), so a slot array indexed by the id's low bits finds each one without
 * hashing. A `Map` did the same at 3.7 % of the thread under full QoS 1 load: with thousands of entries in
 * flight and every one deleted soon after, it rehashed into new tables over and over (BENCHMARKS.md, QoS 1).
 *
 * When a new id's slot is still taken (more in flight than slots, or an old id not yet answered), the table
 * doubles, up to MAX_SLOTS; past that such an entry goes to a Map beside it (an id far behind the others would
 * otherwise double the table towards 2^32). It never shrinks: its size follows the most ever in flight.
 */
const MAX_SLOTS = 1 << 16;

export class AckTable<T> {
  private ids: Uint32Array;
  private values: (T | undefined)[];
  private mask: number;
  private count = 0;

  constructor(initialSlots = 1024) {
    const n = 2 ** Math.ceil(Math.log2(Math.max(2, initialSlots)));
    this.ids = new Uint32Array(n);
    this.values = new Array<T | undefined>(n).fill(undefined);
    this.mask = n - 1;
  }

  /** Entries whose slot was taken with the table at MAX_SLOTS. */
  private readonly overflow = new Map<number, T>();

  get size(): number {
    return this.count;
  }

  /** `id` must not be in the table already (ids are unique while in flight). */
  set(id: number, value: T): void {
    this.count++;
    for (;;) {
      const i = id & this.mask;
      if (this.values[i] === undefined) {
        this.ids[i] = id;
        this.values[i] = value;
        return;
      }
      if (this.values.length >= MAX_SLOTS || !this.grow()) {
        this.overflow.set(id, value);
        return;
      }
    }
  }

  /** Removes and returns the value of `id`, if it is there. */
  take(id: number): T | undefined {
    const i = id & this.mask;
    const v = this.values[i];
    if (v !== undefined && this.ids[i] === id) {
      this.values[i] = undefined;
      this.count--;
      return v;
    }
    if (this.overflow.size === 0) return undefined;
    const o = this.overflow.get(id);
    if (o !== undefined) {
      this.overflow.delete(id);
      this.count--;
    }
    return o;
  }

  /** Doubles the table (entries in distinct slots mod n stay distinct mod 2n); false at MAX_SLOTS. */
  private grow(): boolean {
    const ids = this.ids;
    const values = this.values;
    const n = values.length * 2;
    if (n > MAX_SLOTS) return false;
    this.ids = new Uint32Array(n);
    this.values = new Array<T | undefined>(n).fill(undefined);
    this.mask = n - 1;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v === undefined) continue;
      const j = ids[i]! & this.mask;
      this.ids[j] = ids[i]!;
      this.values[j] = v;
    }
    return true;
  }
}

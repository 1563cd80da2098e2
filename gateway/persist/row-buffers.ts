/**
 * Reuse of the big buffers that incremental checkpoints build their rows in (rows.ts RowWriter), on the gateway
 * thread. A checkpoint's rows cross to the writer thread by transfer (state/checkpoint-writer.ts); when the
 * writer has committed them it transfers the buffers back, and the next capture writes into them instead of
 * allocating new ones. Without this, each buffer stayed allocated in the writer thread until that thread's next
 * garbage collection (it allocates little, so that could be several checkpoints later, or never while idle) while
 * the gateway thread allocated the next: at 100k sensors with the 15m horizons full and every device changed,
 * two buffers of ~200 MiB were resident instead of one (BENCHMARKS.md, "Memory at the default horizons").
 *
 * Bounded: at most MAX_KEPT buffers (a checkpoint has two parts, pipeline and alerts), only buffers of at least
 * MIN_BYTES (smaller ones malloc serves well), and a buffer far larger than what is asked for is dropped rather
 * than reused, so a capture that shrank (deltas after a full checkpoint) lets the big buffer go.
 */
export const MIN_BYTES = 1 << 20;
const MAX_KEPT = 2;
/** A kept buffer is reused for a request of at least this share of its length. */
const LEAST_USE = 0.5;
/** A request is served by a kept buffer of at least this share of it (the request carries its own ~10 % headroom). */
const LEAST_FIT = 0.95;

export class RowBuffers {
  private kept: Buffer[] = [];

  /** A kept buffer for a capture that asks for `capacity` bytes, or undefined (allocate one). */
  take(capacity: number): Buffer | undefined {
    if (capacity < MIN_BYTES) return undefined;
    let best = -1;
    for (let i = 0; i < this.kept.length; i++) {
      const b = this.kept[i]!;
      if (b.length < capacity * LEAST_FIT) continue;
      if (best < 0 || b.length < this.kept[best]!.length) best = i;
    }
    if (best < 0) return undefined;
    const b = this.kept[best]!;
    this.kept.splice(best, 1);
    // Far larger than needed: the state's changes shrank; let it go rather than hold it.
    return capacity >= b.length * LEAST_USE ? b : undefined;
  }

  /** A buffer the writer is done with. */
  give(buf: Uint8Array): void {
    if (buf.byteLength < MIN_BYTES) return;
    this.kept.push(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
    if (this.kept.length > MAX_KEPT) {
      this.kept.sort((a, b) => b.length - a.length);
      this.kept.length = MAX_KEPT;
    }
  }

  clear(): void {
    this.kept = [];
  }

  /** Bytes held (tests, and what a memory breakdown counts). */
  get bytes(): number {
    return this.kept.reduce((n, b) => n + b.length, 0);
  }
}

/** The gateway thread's pool: RowWriter takes from it, CheckpointWriter gives back to it. */
export const rowBuffers = new RowBuffers();

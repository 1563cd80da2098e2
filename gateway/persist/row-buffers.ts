/**
 * Reuse of the big buffers that incremental checkpoints build their rows in (rows.ts RowWriter), on the gateway
 * thread. A buffer of at least MIN_BYTES is shared memory (a SharedArrayBuffer): the checkpoint writer thread
 * (state/checkpoint-writer.ts) reads the rows from it in place, and once that job is finished the gateway thread
 * gives the buffer back here, and the next capture writes into it instead of allocating one. Without the reuse, at
 * 100k sensors with the 15m horizons full and every device changed, two buffers of ~200 MiB were resident instead
 * of one (BENCHMARKS.md, "Memory at the default horizons").
 *
 * Why shared rather than an ArrayBuffer transferred there and back: V8 counts a transferred ArrayBuffer's bytes
 * as external memory of the young generation of the isolate it arrives in, and allocating any off-heap buffer
 * while those exceed two semi-spaces collects the young generation first (Heap::AllocateExternalBackingStore,
 * "external memory pressure" in --trace-gc). Buffers of ~30 MiB coming back young from the writer made the next
 * checkpoint's first turn pay one or two scavenges of 3-14 ms at 100k sensors (BENCHMARKS.md, "The begin turn's
 * scavenges"). A shared backing store is not counted per isolate (BackingStore::PerIsolateAccountingLength is 0
 * for shared memory), so it never forces one.
 *
 * Bounded: at most MAX_KEPT buffers (a checkpoint has two parts, pipeline and alerts), only buffers of at least
 * MIN_BYTES (smaller ones malloc serves well), and a buffer far larger than what is asked for is dropped rather
 * than reused, so a capture that shrank (deltas after a full checkpoint) lets the big buffer go. Shared memory is
 * freed once both threads have collected their handle to it, and the writer thread collects seldom: a big buffer
 * let go may stay resident a while longer. Big full checkpoints are rare: only the first after a start whose state
 * was not restored from rows (pipeline/captures.ts).
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

/** A buffer for rows: shared memory from MIN_BYTES on (above), else an ordinary one. */
export function allocRowBuffer(bytes: number): Buffer {
  return bytes >= MIN_BYTES ? Buffer.from(new SharedArrayBuffer(bytes)) : Buffer.allocUnsafeSlow(bytes);
}

/** The gateway thread's pool: RowWriter takes from it, CheckpointWriter gives back to it. */
export const rowBuffers = new RowBuffers();

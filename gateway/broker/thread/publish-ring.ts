/**
 * The hand-over of publishes from the broker thread to the pipeline thread: a single-producer single-consumer
 * ring of records in a SharedArrayBuffer. A record costs the producer one copy of topic + payload and the
 * consumer one copy of a short payload into a Buffer it reuses (topic strings are cached); no structured clone,
 * no message event per publish.
 *
 * Layout: `control` (Int32Array over its own SharedArrayBuffer) holds the write and read offsets and a flag the
 * consumer raises before it sleeps, each in a cache line of its own (below); `data` holds records aligned to 4 bytes:
 *   i32 size (whole record incl. this header, aligned; WRAP = "continue at offset 0")
 *   u32 ackId (0: nobody waits for an acknowledgement)
 *   u16 topic bytes, u8 qos, u8 unused
 *   u32 payload bytes
 *   topic (UTF-8), payload
 * The ring is never filled to the last byte, so write === read always means empty.
 */
/**
 * The control words sit 128 bytes apart (two 64-byte cache lines, so the adjacent-line prefetcher does not pair
 * them either). Packed into one line, every store of the write offset by the broker thread took the line away
 * from the gateway thread, which read it for every record and stored the read offset into it, and back: the
 * Atomics lines of `push` were 20-28 % of its samples, 1.5-2 % of the broker thread at full load (BENCHMARKS.md,
 * "The broker thread's cost per publish"). Each side also keeps its own offset in a field and reads the other's
 * only when it has to: the writer the read offset when its stale copy leaves no room, the reader the write
 * offset when it has caught up with its copy; and the reader publishes its offset once per `read`, not per record.
 */
const STRIDE = 32;
const W = 0;
const R = STRIDE;
const SLEEPING = 2 * STRIDE;
const CONTROL_SLOTS = 2 * STRIDE + 1;
const HEADER = 16;
const WRAP = -1;

export interface RingBuffers {
  readonly control: SharedArrayBuffer;
  readonly data: SharedArrayBuffer;
}

export function createRingBuffers(capacityBytes: number): RingBuffers {
  if (!(Number.isSafeInteger(capacityBytes) && capacityBytes >= 1024 && capacityBytes % 4 === 0)) {
    throw new RangeError(`ring capacity must be a multiple of 4 bytes, at least 1024, got ${capacityBytes}`);
  }
  return { control: new SharedArrayBuffer(CONTROL_SLOTS * 4), data: new SharedArrayBuffer(capacityBytes) };
}

const align = (n: number) => (n + 3) & ~3;
/** Room a record reserves: its topic at its longest UTF-8 form (3 bytes a UTF-16 unit), so it is written once. */
const reserved = (topic: string, payload: Buffer) => align(HEADER + 3 * topic.length + payload.length);

/** Atomics.waitAsync (V8 since Node 16) is in TypeScript's ES2024 lib; this project targets ES2022. */
type WaitAsync = (a: Int32Array, index: number, value: number) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** The broker thread's end. */
export class RingWriter {
  private readonly control: Int32Array;
  private readonly bytes: Buffer;
  private readonly view: DataView;
  private readonly capacity: number;

  private readonly u8: Uint8Array;
  /** The write offset: this is the only writer, so its own copy is the truth (stored to `control` per record). */
  private w: number;
  /** The read offset as last loaded: the reader only moves it forward, so a stale copy only understates the room. */
  private r: number;

  constructor(buffers: RingBuffers) {
    this.control = new Int32Array(buffers.control);
    this.bytes = Buffer.from(buffers.data);
    this.u8 = new Uint8Array(buffers.data);
    this.view = new DataView(buffers.data);
    this.capacity = buffers.data.byteLength;
    this.w = Atomics.load(this.control, W);
    this.r = Atomics.load(this.control, R);
  }

  /** Whether the publish can ever fit (an empty ring takes any record up to half its size). */
  fits(topic: string, payload: Buffer): boolean {
    return reserved(topic, payload) + 8 <= this.capacity / 2;
  }

  /**
   * Appends one publish; false when the ring has no room now (the caller waits and tries again, which holds the
   * client's socket: backpressure, nothing dropped). Wakes the consumer if it sleeps.
   */
  push(topic: string, payload: Buffer, qos: number, ackId: number): boolean {
    const c = this.control;
    const w = this.w;
    const bound = reserved(topic, payload);
    let at = this.placeAt(w, this.r, bound);
    if (at < 0) {
      this.r = Atomics.load(c, R);
      at = this.placeAt(w, this.r, bound);
      if (at < 0) return false;
    }
    const topicBytes = this.writeTopic(topic, at + HEADER);
    this.u8.set(payload, at + HEADER + topicBytes);
    const size = align(HEADER + topicBytes + payload.length);
    const v = this.view;
    v.setUint32(at + 4, ackId, true);
    v.setUint16(at + 8, topicBytes, true);
    v.setUint8(at + 10, qos);
    v.setUint32(at + 12, payload.length, true);
    v.setInt32(at, size, true);
    if (at !== w) v.setInt32(w, WRAP, true);
    let next = at + size;
    if (next === this.capacity) next = 0;
    this.w = next;
    // The store publishes the record (Atomics are sequentially consistent); then wake a sleeping consumer.
    Atomics.store(c, W, next);
    if (Atomics.load(c, SLEEPING) === 1 && Atomics.exchange(c, SLEEPING, 0) === 1) Atomics.notify(c, W);
    return true;
  }

  /**
   * Where a record of `bound` bytes goes with the reader at `r`: at `w` if it fits before the end, else at 0 (the
   * tail of the buffer is skipped); -1 when there is no room. 4 bytes always stay free so that full != empty.
   */
  private placeAt(w: number, r: number, bound: number): number {
    const cap = this.capacity;
    const free = r > w ? r - w : cap - w + r;
    if (w + bound > cap) return free - (cap - w) <= bound + 4 || r <= bound ? -1 : 0;
    return free <= bound + 4 ? -1 : w;
  }

  /** Topics are short and nearly always ASCII: a loop beats a call into the UTF-8 encoder. */
  private writeTopic(topic: string, at: number): number {
    const u8 = this.u8;
    const n = topic.length;
    for (let i = 0; i < n; i++) {
      const ch = topic.charCodeAt(i);
      if (ch >= 0x80) return this.bytes.write(topic, at, 'utf8');
      u8[at + i] = ch;
    }
    return n;
  }
}

/**
 * What the consumer sees of one record. `payload` is the reader's Buffer, reused for the next record of its length,
 * or a view into the ring (payloadAt): valid only during the call.
 */
export type RecordHandler = (topic: string, payload: Buffer, qos: number, ackId: number) => void;

const TOPIC_SLOTS = 8192;
/** Payloads up to this many bytes are copied into a Buffer of the reader's own (payloadAt). */
const PAYLOAD_COPY_MAX = 1024;

/** The pipeline thread's end. */
export class RingReader {
  private readonly control: Int32Array;
  private readonly u8: Uint8Array;
  private readonly topics: ({ readonly bytes: Uint8Array; readonly topic: string } | undefined)[] = new Array(TOPIC_SLOTS).fill(undefined);
  private readonly payloads: (Buffer | undefined)[] = new Array(PAYLOAD_COPY_MAX + 1).fill(undefined);
  private readonly data: SharedArrayBuffer;
  private readonly bytes: Buffer;
  private readonly view: DataView;
  private readonly capacity: number;
  /** The write offset as last loaded: the reader reads up to it before it loads the offset again. */
  private w: number;

  constructor(buffers: RingBuffers) {
    this.control = new Int32Array(buffers.control);
    this.w = Atomics.load(this.control, W);
    this.data = buffers.data;
    this.u8 = new Uint8Array(buffers.data);
    this.bytes = Buffer.from(buffers.data);
    this.view = new DataView(buffers.data);
    this.capacity = buffers.data.byteLength;
  }

  /**
   * The topic string of the bytes at `at`: a device publishes on the same few topics all day, so the strings are
   * kept by a hash of their bytes and reused (no decode and no new string per publish, and the gateway's caches
   * keyed by topic find them by identity).
   */
  private topicAt(at: number, len: number): string {
    const u8 = this.u8;
    let h = 0x811c9dc5 ^ len;
    for (let i = 0; i < len; i++) h = Math.imul(h ^ u8[at + i]!, 0x01000193);
    const slot = (h >>> 0) & (TOPIC_SLOTS - 1);
    const e = this.topics[slot];
    if (e !== undefined && e.bytes.length === len) {
      const b = e.bytes;
      let i = 0;
      while (i < len && b[i] === u8[at + i]) i++;
      if (i === len) return e.topic;
    }
    const topic = this.bytes.toString('utf8', at, at + len);
    this.topics[slot] = { bytes: u8.slice(at, at + len), topic };
    return topic;
  }

  /**
   * The payload at `at`: up to PAYLOAD_COPY_MAX bytes, copied into this reader's Buffer of that length, which the
   * next record of the same length reuses (sensors send few distinct lengths); a longer one, a view of the ring. A
   * Buffer view made per record was a fifth of the gateway thread's garbage under paced load (BENCHMARKS.md, "The
   * gateway thread's garbage per publish"). Either way it is valid only during the handler's call.
   */
  private payloadAt(at: number, len: number): Buffer {
    if (len > PAYLOAD_COPY_MAX) return Buffer.from(this.data, at, len);
    let b = this.payloads[len];
    if (b === undefined) b = this.payloads[len] = Buffer.allocUnsafeSlow(len);
    const u8 = this.u8;
    for (let i = 0; i < len; i++) b[i] = u8[at + i]!;
    return b;
  }

  isEmpty(): boolean {
    return Atomics.load(this.control, R) === Atomics.load(this.control, W);
  }

  /**
   * Hands up to `max` records to `handle` in ring order and frees them when it returns (also when a handler
   * throws: the record it was given counts as read). Returns how many were read.
   */
  read(max: number, handle: RecordHandler): number {
    const c = this.control;
    const v = this.view;
    let r = Atomics.load(c, R);
    let w = this.w;
    let n = 0;
    try {
      while (n < max) {
        if (r === w) {
          w = this.w = Atomics.load(c, W);
          if (r === w) break;
        }
        let size = v.getInt32(r, true);
        if (size === WRAP) {
          r = 0;
          size = v.getInt32(0, true);
        }
        const topicBytes = v.getUint16(r + 8, true);
        const payloadAt = r + HEADER + topicBytes;
        const topic = this.topicAt(r + HEADER, topicBytes);
        const payload = this.payloadAt(payloadAt, v.getUint32(r + 12, true));
        const qos = v.getUint8(r + 10);
        const ackId = v.getUint32(r + 4, true);
        // Past this record before the call, so that a handler that throws still consumes it.
        r += size;
        if (r === this.capacity) r = 0;
        n++;
        handle(topic, payload, qos, ackId);
      }
    } finally {
      // Frees the records read (the writer may reuse their bytes from now on).
      Atomics.store(c, R, r);
    }
    return n;
  }

  /**
   * Blocks this thread for up to `ms` while the ring stays empty; returns at once when records wait. The writer is
   * not told (no notify per publish): the nap ends on its timeout, whatever arrives meanwhile.
   */
  nap(ms: number): void {
    const c = this.control;
    const w = Atomics.load(c, W);
    if (w === Atomics.load(c, R)) Atomics.wait(c, W, w, ms);
  }

  /** Ends a waitForRecords (the consumer stops). */
  wake(): void {
    Atomics.notify(this.control, W);
  }

  /**
   * Resolves when a record may be waiting (at once if one is). The consumer calls it only after reading the
   * ring empty; the producer clears the flag and notifies on its next push.
   */
  waitForRecords(): Promise<void> {
    const c = this.control;
    Atomics.store(c, SLEEPING, 1);
    const w = Atomics.load(c, W);
    if (w !== Atomics.load(c, R)) {
      Atomics.store(c, SLEEPING, 0);
      return Promise.resolve();
    }
    const wait = waitAsync(c, W, w);
    return wait.async ? wait.value.then(() => undefined) : Promise.resolve();
  }
}

import type { DeadLetter, DeadLetterTotals, DroppedBatches, NewBatch, OutboxStore, OutboxTotals, PeekLimit, RefusedPart, StoredBatch } from './store.js';

/** In-memory OutboxStore for unit tests of the outbox logic; same contract as the SQLite store, no durability. */
export class MemoryOutboxStore implements OutboxStore {
  private batches: StoredBatch[] = [];
  private dead: DeadLetter[] = [];
  private nextId = 1;
  private nextDeadId = 1;
  closed = false;

  append(b: NewBatch): number {
    const id = this.nextId++;
    this.batches.push({ ...b, id, body: Buffer.from(b.body), cuts: Uint32Array.from(b.cuts) });
    return id;
  }

  peek(limit: PeekLimit, afterId = 0): StoredBatch[] {
    const out: StoredBatch[] = [];
    let pts = 0;
    let bytes = 0;
    for (const b of this.batches.filter((x) => x.id > afterId).slice(0, limit.batches)) {
      if (out.length > 0 && (pts + b.points > limit.points || bytes + b.bytes > limit.bytes)) break;
      out.push(b);
      pts += b.points;
      bytes += b.bytes;
    }
    return out;
  }

  waitingUpTo(id: number): number {
    return this.batches.filter((b) => b.id <= id).length;
  }

  ack(ids: readonly number[]): void {
    const gone = new Set(ids);
    this.batches = this.batches.filter((b) => !gone.has(b.id));
  }

  deadLetter(id: number, error: string, failedMs: number, refused?: RefusedPart): void {
    const b = this.batches.find((x) => x.id === id);
    if (!b) return;
    this.ack([id]);
    const body = refused?.body ?? b.body.toString();
    this.dead.push({
      id: this.nextDeadId++,
      batchId: id,
      createdMs: b.createdMs,
      failedMs,
      points: refused?.points ?? b.points,
      bytes: Buffer.byteLength(body),
      error,
      body,
    });
  }

  dropOldest(maxBytes: number, afterId: number): DroppedBatches | undefined {
    let total = this.totals().bytes;
    if (total <= maxBytes) return undefined;
    const drop: StoredBatch[] = [];
    for (const b of this.batches) {
      if (total <= maxBytes) break;
      if (b.id <= afterId) continue;
      drop.push(b);
      total -= b.bytes;
    }
    if (drop.length === 0) return undefined;
    this.ack(drop.map((b) => b.id));
    return {
      batches: drop.length,
      points: drop.reduce((s, b) => s + b.points, 0),
      bytes: drop.reduce((s, b) => s + b.bytes, 0),
      minTime: Math.min(...drop.map((b) => b.minTime)),
      maxTime: Math.max(...drop.map((b) => b.maxTime)),
    };
  }

  trimDeadLetters(maxBytes: number): number {
    let total = this.deadLetterTotals().bytes;
    let n = 0;
    while (total > maxBytes && this.dead.length > 0) {
      total -= this.dead.shift()!.bytes;
      n++;
    }
    return n;
  }

  totals(): OutboxTotals {
    return {
      batches: this.batches.length,
      points: this.batches.reduce((s, b) => s + b.points, 0),
      bytes: this.batches.reduce((s, b) => s + b.bytes, 0),
      oldestCreatedMs: this.batches[0]?.createdMs,
    };
  }

  deadLetterTotals(): DeadLetterTotals {
    return {
      letters: this.dead.length,
      points: this.dead.reduce((s, d) => s + d.points, 0),
      bytes: this.dead.reduce((s, d) => s + d.bytes, 0),
    };
  }

  deadLetters(limit: number): DeadLetter[] {
    return this.dead.slice(-limit).reverse();
  }

  close(): void {
    this.closed = true;
  }
}

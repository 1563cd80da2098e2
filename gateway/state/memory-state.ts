import { batchRows, packRows } from '../persist/rows.js';
import type { Checkpoint, CheckpointDelta, CheckpointStore } from './checkpoint-store.js';
import { recordBytes, type IngestLog, type IngestLogTotals, type IngestRecord, type LoggedRecord } from './ingest-log.js';

/**
 * In-memory checkpoint store + ingest log with the SQLite store's semantics, for unit tests (the contract
 * suite in test/unit/state runs against both). `failSaves` / `failAppends` simulate a full or broken disk.
 */
export class MemoryStateStore implements CheckpointStore, IngestLog {
  private entries: LoggedRecord[] = [];
  private cp: Checkpoint | undefined;
  /** The rows of an incremental checkpoint (per part: key -> value), undefined after a whole one. */
  private rows: [Map<string, Buffer>, Map<string, Buffer>] | undefined;
  private last = 0;
  failSaves = false;
  failAppends = false;

  append(records: readonly IngestRecord[]): number {
    if (this.failAppends) throw new Error('simulated append failure');
    for (const r of records) this.entries.push({ topic: r.topic, payload: Buffer.from(r.payload), receivedAt: r.receivedAt, position: ++this.last });
    return this.last;
  }

  *after(position: number): Iterable<LoggedRecord> {
    for (const e of this.entries.slice()) if (e.position > position) yield e;
  }

  totals(): IngestLogTotals {
    let bytes = 0;
    for (const e of this.entries) bytes += recordBytes(e);
    return { entries: this.entries.length, bytes, oldestReceivedAt: this.entries[0]?.receivedAt, lastPosition: this.last };
  }

  load(): Checkpoint | undefined {
    if (this.cp === undefined) return undefined;
    if (this.rows === undefined) return copy(this.cp);
    const [p, a] = this.rows;
    return { ...copy({ ...this.cp, pipeline: packRows(this.cp.pipeline, [...p.values()]), alerts: packRows(this.cp.alerts, [...a.values()]) }), rows: true };
  }

  save(cp: Checkpoint): void {
    if (this.failSaves) throw new Error('simulated checkpoint failure');
    if (cp.logPosition > this.last) throw new RangeError(`checkpoint position ${cp.logPosition} is beyond the log (${this.last})`);
    this.cp = copy(cp);
    this.rows = undefined;
    this.entries = this.entries.filter((e) => e.position > cp.logPosition);
  }

  /** As SqliteStateStore.saveDelta: every part applied, or (a failure) nothing. */
  saveDelta(cp: CheckpointDelta): void {
    if (this.failSaves) throw new Error('simulated checkpoint failure');
    if (cp.logPosition > this.last) throw new RangeError(`checkpoint position ${cp.logPosition} is beyond the log (${this.last})`);
    const before = this.rows ?? [new Map<string, Buffer>(), new Map<string, Buffer>()];
    const rows: [Map<string, Buffer>, Map<string, Buffer>] = [cp.pipelineFull ? new Map() : new Map(before[0]), cp.alertsFull ? new Map() : new Map(before[1])];
    [cp.pipelineRows, cp.alertRows].forEach((batch, part) => {
      for (const [key, value] of batchRows(batch)) {
        if (value.length === 0) rows[part]!.delete(key);
        else rows[part]!.set(key, Buffer.from(value));
      }
    });
    this.rows = rows;
    this.cp = {
      pipeline: Buffer.from(cp.pipelineHead),
      alerts: Buffer.alloc(0),
      sparkplug: Buffer.from(cp.sparkplug),
      savedAt: cp.savedAt,
      logPosition: cp.logPosition,
    };
    this.entries = this.entries.filter((e) => e.position > cp.logPosition);
  }

  close(): void {}
}

/** A copy, as a round trip through the SQLite store makes one: the parts' bytes do not share memory. */
function copy(cp: Checkpoint): Checkpoint {
  return {
    pipeline: Buffer.from(cp.pipeline),
    alerts: Buffer.from(cp.alerts),
    sparkplug: Buffer.from(cp.sparkplug),
    savedAt: cp.savedAt,
    logPosition: cp.logPosition,
  };
}

import type { AlertEvent } from './types.js';

/**
 * The last alert state changes the gateway made (firing, resolved), newest last, in a ring of `capacity`: the
 * operator page's per-rule history. `silenced` marks the changes a silence held back (silences.ts).
 * In memory: it starts empty at each start; the `alerts` measurement in InfluxDB keeps the long history.
 */
export interface HistoryEntry {
  readonly event: AlertEvent;
  readonly silenced: boolean;
  /** Gateway time the change was made. */
  readonly at: number;
}

export class AlertHistory {
  private readonly ring: (HistoryEntry | undefined)[];
  private next = 0;

  constructor(private readonly capacity = 1000) {
    this.ring = new Array<HistoryEntry | undefined>(capacity);
  }

  record(events: readonly AlertEvent[], held: readonly AlertEvent[], at: number): void {
    const heldSet = new Set(held);
    for (const event of events) {
      this.ring[this.next % this.capacity] = { event, silenced: heldSet.has(event), at };
      this.next++;
    }
  }

  /** Newest first; `rule` keeps one rule's. */
  recent(rule: string | undefined, limit: number): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (let i = this.next - 1; i >= Math.max(0, this.next - this.capacity) && out.length < limit; i--) {
      const e = this.ring[i % this.capacity]!;
      if (rule === undefined || e.event.rule === rule) out.push(e);
    }
    return out;
  }
}

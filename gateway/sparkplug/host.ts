import type { SpMetric, SpPayload } from './codec.js';
import { bdSeqOf, checkSeq, deviceId, forgetDevice, isControl, nameKey, newEdgeNode, reorderExpired, resetSession, type EdgeNode } from './edge-node.js';
import type { InboundType } from './topic.js';

/**
 * The Sparkplug host application's view of every edge node (Sparkplug 3.0 chapter 5): births, data by alias,
 * sequence numbers, deaths, rebirth requests. A pure state machine: every call takes the gateway time, nothing
 * here reads a clock, sets a timer or does I/O; what it decides goes to `HostOutput` synchronously.
 */
export interface HostSettings {
  /** How long a skipped seq may still arrive before a rebirth is requested (sparkplug.reorderTimeout). */
  readonly reorderTimeoutMs: number;
  /** The wait before the next rebirth request of a node that did not answer the last, doubled each time... */
  readonly rebirthBackoffMs: number;
  /** ...up to this (sparkplug.rebirthBackoff, sparkplug.rebirthBackoffMax). */
  readonly rebirthBackoffMaxMs: number;
}

/** A metric resolved against its birth: the name and datatype to use. */
export interface ResolvedMetric {
  readonly name: string;
  readonly datatype: number;
  readonly metric: SpMetric;
}

export type RebirthReason = 'seq_gap' | 'no_birth' | 'unknown_alias' | 'missing_seq';
export const REBIRTH_REASONS: readonly RebirthReason[] = ['seq_gap', 'no_birth', 'unknown_alias', 'missing_seq'];

/** Things counted (gateway_sparkplug_events_total{event}). */
export type HostEvent =
  | 'node_birth'
  | 'device_birth'
  | 'node_death'
  | 'device_death'
  | 'death_ignored'
  | 'seq_gap'
  | 'seq_late_fill'
  | 'seq_repeat'
  | 'unknown_alias'
  | 'duplicate_alias'
  | 'no_birth'
  | 'rebirth_suppressed'
  | 'no_bdseq';
export const HOST_EVENTS: readonly HostEvent[] = [
  'node_birth',
  'device_birth',
  'node_death',
  'device_death',
  'death_ignored',
  'seq_gap',
  'seq_late_fill',
  'seq_repeat',
  'unknown_alias',
  'duplicate_alias',
  'no_birth',
  'rebirth_suppressed',
  'no_bdseq',
];

export interface HostOutput {
  /** Metrics of one device (or the node) to map into readings. */
  metrics(device: string, metrics: readonly ResolvedMetric[], payloadTs: number | undefined): void;
  /** Send `Node Control/Rebirth = true` to the node (NCMD). At most one outstanding per node (backoff). */
  rebirth(group: string, edge: string, reason: RebirthReason): void;
  /** The device's sensors are stale as of now (NDEATH, DDEATH). */
  stale(device: string): void;
  event(e: HostEvent): void;
}

export interface EdgeNodeStatus {
  readonly group: string;
  readonly edge: string;
  readonly online: boolean;
  readonly devices: number;
  readonly devicesOnline: number;
}

/** Edge nodes seen without a birth (their rebirth backoff), at most this many: cleared when full. */
const MAX_STRANGERS = 10_000;

export class SparkplugHost {
  /** Edge nodes that were born (checkpointed, in /health). */
  private readonly nodes = new Map<string, EdgeNode>();
  /**
   * Edge nodes that sent DATA but never a birth, only to pace their rebirth requests. Kept apart and bounded, so
   * that a client inventing edge node or group ids cannot grow the host's state or its checkpoint.
   */
  private readonly strangers = new Map<string, EdgeNode>();
  /** No reorder deadline is before this (a lower bound: a seq filled or a session reset leaves it early). */
  private nextDeadline = Infinity;

  constructor(
    private readonly settings: HostSettings,
    private readonly out: HostOutput,
  ) {}

  handle(type: InboundType, group: string, edge: string, device: string | undefined, p: SpPayload, now: number): void {
    const key = `${group}/${edge}`;
    let n = this.nodes.get(key);
    if (n === undefined) {
      if (type === 'NDEATH' || type === 'DDEATH') return this.out.event('death_ignored');
      n = this.strangers.get(key);
      if (type === 'NBIRTH') {
        this.strangers.delete(key);
        n ??= newEdgeNode(group, edge);
        this.nodes.set(key, n);
      } else if (n === undefined) {
        if (this.strangers.size >= MAX_STRANGERS) this.strangers.clear();
        n = newEdgeNode(group, edge);
        this.strangers.set(key, n);
      }
    }
    switch (type) {
      case 'NBIRTH':
        return this.nodeBirth(n, p);
      case 'NDEATH':
        return this.nodeDeath(n, p);
      case 'DBIRTH':
        return this.deviceBirth(n, device!, p, now);
      case 'NDATA':
      case 'DDATA':
        return this.data(n, device, p, now);
      case 'DDEATH':
        return this.deviceDeath(n, device!, p, now);
    }
  }

  /** Requests rebirths of nodes whose skipped seqs did not arrive within the reorder timeout. Gateway tick. */
  tick(now: number): void {
    // A cluster partition ticks before every message (stream time): no scan of the nodes until a deadline is due.
    if (now < this.nextDeadline) return;
    this.nextDeadline = Infinity;
    for (const n of this.nodes.values()) {
      if (n.missing.size > 0 && reorderExpired(n, now)) {
        n.missing.clear();
        this.requestRebirth(n, 'seq_gap', now);
      }
      for (const until of n.missing.values()) this.nextDeadline = Math.min(this.nextDeadline, until);
    }
  }

  /** True while a skipped seq may be awaited (tick() has a reorder deadline to check). */
  awaiting(): boolean {
    return this.nextDeadline !== Infinity;
  }

  status(): EdgeNodeStatus[] {
    return [...this.nodes.values()].map((n) => {
      let on = 0;
      for (const o of n.devices.values()) if (o) on++;
      return { group: n.group, edge: n.edge, online: n.online, devices: n.devices.size, devicesOnline: n.online ? on : 0 };
    });
  }

  /** The nodes, for the checkpoint (host-snapshot.ts). */
  edgeNodes(): Iterable<EdgeNode> {
    return this.nodes.values();
  }

  restore(nodes: Iterable<EdgeNode>): void {
    this.nodes.clear();
    for (const n of nodes) this.nodes.set(`${n.group}/${n.edge}`, n);
    this.nextDeadline = -Infinity; // the first tick looks at the restored deadlines
  }

  /** NBIRTH begins a new session: everything of the previous one is forgotten (spec 5.4 "Edge Node Session Establishment"), its bdSeq kept. */
  private nodeBirth(n: EdgeNode, p: SpPayload): void {
    resetSession(n);
    n.online = true;
    n.bdSeq = bdSeqOf(p);
    if (n.bdSeq === undefined) this.out.event('no_bdseq');
    n.lastSeq = p.seq ?? 0;
    this.out.event('node_birth');
    this.birthMetrics(n, undefined, p);
  }

  private deviceBirth(n: EdgeNode, device: string, p: SpPayload, now: number): void {
    if (!n.online) return this.noBirth(n, now);
    if (!this.sequence(n, p, now)) return;
    forgetDevice(n, device);
    n.devices.set(device, true);
    this.out.event('device_birth');
    this.birthMetrics(n, device, p);
  }

  /** Births define the aliases (unique across the node) and carry current values. */
  private birthMetrics(n: EdgeNode, device: string | undefined, p: SpPayload): void {
    const resolved: ResolvedMetric[] = [];
    for (const m of p.metrics) {
      if (m.name === undefined) continue; // a birth metric must be named (spec 6.4.6); nothing to resolve it to
      const datatype = m.datatype ?? 0;
      n.names.set(nameKey(device, m.name), datatype);
      if (m.alias !== undefined) {
        if (n.aliases.has(m.alias)) this.out.event('duplicate_alias');
        else n.aliases.set(m.alias, { device, name: m.name, datatype });
      }
      if (!isControl(m.name)) resolved.push({ name: m.name, datatype, metric: m });
    }
    if (resolved.length > 0) this.out.metrics(deviceId(n, device), resolved, p.timestamp);
  }

  private data(n: EdgeNode, device: string | undefined, p: SpPayload, now: number): void {
    if (!n.online || (device !== undefined && n.devices.get(device) !== true)) return this.noBirth(n, now);
    if (!this.sequence(n, p, now)) return;
    const resolved: ResolvedMetric[] = [];
    let unknown = false;
    for (const m of p.metrics) {
      let name = m.name;
      let datatype = m.datatype;
      if (m.alias !== undefined && name === undefined) {
        const e = n.aliases.get(m.alias);
        if (e !== undefined && e.device === device) {
          name = e.name;
          datatype ??= e.datatype;
        }
      } else if (name !== undefined) {
        datatype ??= n.names.get(nameKey(device, name));
      }
      if (name === undefined || datatype === undefined) {
        this.out.event('unknown_alias');
        unknown = true;
        continue;
      }
      if (!isControl(name)) resolved.push({ name, datatype, metric: m });
    }
    if (resolved.length > 0) this.out.metrics(deviceId(n, device), resolved, p.timestamp);
    if (unknown) this.requestRebirth(n, 'unknown_alias', now);
  }

  /** NDEATH counts only for the session it belongs to: its bdSeq must match the NBIRTH's (spec 5.5 "Edge Node Session Termination",
   * [tck-id-payloads-ndeath-bdseq]); a will that follows an NDEATH the node sent itself is ignored as well. */
  private nodeDeath(n: EdgeNode, p: SpPayload): void {
    const bdSeq = bdSeqOf(p);
    if (!n.online || (n.bdSeq !== undefined && bdSeq !== n.bdSeq)) return this.out.event('death_ignored');
    n.online = false;
    n.missing.clear();
    this.out.event('node_death');
    this.out.stale(deviceId(n, undefined));
    for (const [d, online] of n.devices) {
      if (online) this.out.stale(deviceId(n, d));
      n.devices.set(d, false);
    }
  }

  private deviceDeath(n: EdgeNode, device: string, p: SpPayload, now: number): void {
    if (!n.online || n.devices.get(device) !== true) return this.out.event('death_ignored');
    if (!this.sequence(n, p, now)) return;
    n.devices.set(device, false);
    this.out.event('device_death');
    this.out.stale(deviceId(n, device));
  }

  /** False when the message cannot be trusted in sequence (no seq at all): a rebirth is requested instead. */
  private sequence(n: EdgeNode, p: SpPayload, now: number): boolean {
    const verdict = checkSeq(n, p.seq, now, this.settings.reorderTimeoutMs);
    if (verdict === 'missing') {
      this.requestRebirth(n, 'missing_seq', now);
      return false;
    }
    if (verdict === 'gap') {
      this.out.event('seq_gap');
      this.nextDeadline = Math.min(this.nextDeadline, now + this.settings.reorderTimeoutMs);
      if (this.settings.reorderTimeoutMs === 0) {
        n.missing.clear();
        this.requestRebirth(n, 'seq_gap', now);
      }
    } else if (verdict === 'late_fill') this.out.event('seq_late_fill');
    else if (verdict === 'repeat') this.out.event('seq_repeat');
    return true;
  }

  private noBirth(n: EdgeNode, now: number): void {
    this.out.event('no_birth');
    this.requestRebirth(n, 'no_birth', now);
  }

  /**
   * One outstanding request per node: another is sent only once the last has gone unanswered for the backoff,
   * which doubles with each unanswered request up to its maximum. The NBIRTH that answers resets it.
   */
  private requestRebirth(n: EdgeNode, reason: RebirthReason, now: number): void {
    if (n.rebirthAt !== undefined) {
      const s = this.settings;
      const wait = Math.min(s.rebirthBackoffMs * 2 ** (n.rebirths - 1), s.rebirthBackoffMaxMs);
      if (now < n.rebirthAt + wait) return this.out.event('rebirth_suppressed');
    }
    n.rebirthAt = now;
    n.rebirths++;
    this.out.rebirth(n.group, n.edge, reason);
  }
}

import type { SpPayload } from './codec.js';

/**
 * What the host remembers of one edge node (Sparkplug 3.0 chapter 5, "Operational Behavior"): whether it is
 * online, the bdSeq of its current session, the last seq, its devices and the alias map its births defined.
 * Plain data so that it checkpoints as it is (host-snapshot.ts); the rules that change it are in host.ts.
 */
export interface AliasEntry {
  /** undefined for the node's own metrics. */
  readonly device: string | undefined;
  readonly name: string;
  readonly datatype: number;
}

export interface EdgeNode {
  readonly group: string;
  readonly edge: string;
  online: boolean;
  /** The bdSeq metric of the NBIRTH that began the session (its will, the NDEATH, carries the same: [tck-id-payloads-ndeath-bdseq]). */
  bdSeq: number | undefined;
  /** The seq of the last message in order; the next is (lastSeq + 1) mod 256 ([tck-id-payloads-sequence-num-incrementing]). */
  lastSeq: number | undefined;
  /** Device id -> online. A DBIRTH adds one, a DDEATH marks it offline, an NBIRTH forgets them all. */
  devices: Map<string, boolean>;
  /** One alias map for the node and all its devices: aliases are unique across the edge node (spec 6.4.6). */
  aliases: Map<number, AliasEntry>;
  /** Datatypes by name (`{device}\0{name}`), for DATA that names its metrics instead of aliasing them. */
  names: Map<string, number>;
  /** Missing seq -> the gateway time until which it may still arrive (sequence.reorderTimeout). Not checkpointed. */
  missing: Map<number, number>;
  /** Gateway time of the last rebirth request still unanswered, and how many were sent in a row. Not checkpointed. */
  rebirthAt: number | undefined;
  rebirths: number;
}

const BDSEQ = 'bdSeq';

/** Control metrics of births (spec 6.4, "NBIRTH": "bdSeq", "Node Control/Rebirth"): state of the protocol, not readings. */
export function isControl(name: string): boolean {
  return name === BDSEQ || name.startsWith('Node Control/') || name.startsWith('Device Control/');
}

/** The bdSeq metric of an NBIRTH or NDEATH (its session: [tck-id-payloads-ndeath-bdseq]). */
export function bdSeqOf(p: SpPayload): number | undefined {
  for (const m of p.metrics) {
    if (m.name !== BDSEQ) continue;
    const v = m.value;
    if (v.case === 'longValue') return Number(BigInt.asUintN(64, v.value) & 0xffffn);
    if (v.case === 'intValue') return v.value;
  }
  return undefined;
}

export function newEdgeNode(group: string, edge: string): EdgeNode {
  return {
    group,
    edge,
    online: false,
    bdSeq: undefined,
    lastSeq: undefined,
    devices: new Map(),
    aliases: new Map(),
    names: new Map(),
    missing: new Map(),
    rebirthAt: undefined,
    rebirths: 0,
  };
}

export const nameKey = (device: string | undefined, name: string): string => `${device ?? ''}\0${name}`;

/** The pipeline's device id: `{group}/{edge}` for node metrics, `{group}/{edge}/{device}` for device metrics. */
export function deviceId(node: Pick<EdgeNode, 'group' | 'edge'>, device: string | undefined): string {
  return device === undefined ? `${node.group}/${node.edge}` : `${node.group}/${node.edge}/${device}`;
}

/** Forgets everything of the previous session: an NBIRTH starts a new one (spec 5.4 "Edge Node Session Establishment"). */
export function resetSession(n: EdgeNode): void {
  n.devices.clear();
  n.aliases.clear();
  n.names.clear();
  n.missing.clear();
  n.rebirthAt = undefined;
  n.rebirths = 0;
}

/** Drops a device's aliases and names before its DBIRTH defines them again. */
export function forgetDevice(n: EdgeNode, device: string): void {
  for (const [alias, e] of n.aliases) if (e.device === device) n.aliases.delete(alias);
  const prefix = `${device}\0`;
  for (const k of n.names.keys()) if (k.startsWith(prefix)) n.names.delete(k);
}

export type SeqVerdict = 'in_order' | 'repeat' | 'late_fill' | 'gap' | 'missing';

/**
 * Sequence check (spec 5.9 "Sparkplug Host Application Message Ordering"; seq 0-255, wrapping, one counter for the node and its devices, 6.4.5). In order: fine.
 * A seq still awaited (arrived late but within the reorder timeout): fills the hole. Anything else: a gap; the
 * seqs skipped are awaited until `now + reorderMs`, and the message itself is taken (the pipeline's results do
 * not depend on arrival order).
 */
export function checkSeq(n: EdgeNode, seq: number | undefined, now: number, reorderMs: number): SeqVerdict {
  if (seq === undefined) return 'missing';
  if (n.lastSeq === undefined) {
    n.lastSeq = seq;
    return 'in_order';
  }
  const expected = (n.lastSeq + 1) & 255;
  if (seq === expected) {
    n.lastSeq = seq;
    return 'in_order';
  }
  // The last message again (a QoS 1 resend): no gap; its readings are deduplicated downstream.
  if (seq === n.lastSeq) return 'repeat';
  if (n.missing.delete(seq)) return 'late_fill';
  for (let s = expected; s !== seq; s = (s + 1) & 255) n.missing.set(s, now + reorderMs);
  n.lastSeq = seq;
  return 'gap';
}

/** True when a seq awaited has not come by `now`. */
export function reorderExpired(n: EdgeNode, now: number): boolean {
  for (const until of n.missing.values()) if (until <= now) return true;
  return false;
}

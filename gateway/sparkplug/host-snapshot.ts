import { ByteFormatError, ByteWriter, type ByteReader } from '../persist/byte-codec.js';
import { FORMATS } from '../persist/formats.js';
import { readBlob, writeHeader } from '../persist/frame.js';
import { nameKey, newEdgeNode, type EdgeNode } from './edge-node.js';

/**
 * The Sparkplug part of the gateway's checkpoint (FORMATS.sparkplugSnapshot, framed by persist/frame.ts): per
 * edge node its session (online, bdSeq, seq), devices and alias map, so that DATA of a node that does not
 * re-birth still decodes after a restart; and what is in flight (the seqs awaited with their deadlines, the rebirth
 * backoff), so that a replay from the checkpoint (the ingest log, or a cluster partition's stream) decides exactly
 * what the first run decided: no gap forgotten, no rebirth request the backoff had held back.
 *
 * Layout, version 1, after the header:
 *   uvar nodes, then per node:
 *     str group, str edge, u8 flags (1 online, 2 bdSeq follows, 4 lastSeq follows), [uvar bdSeq], [u8 lastSeq],
 *     uvar devices, then per device: str id, u8 online (0 or 1)
 *     uvar aliases, then per alias: uvar alias, u8 has device (0 or 1), [str device], str name, uvar datatype
 *     uvar names, then per name: str device ('' for the node's own metrics), str name, uvar datatype
 *     uvar missing, then per seq awaited: u8 seq, num until (gateway time)
 *     u8 has rebirthAt (0 or 1), [num rebirthAt], uvar rebirths
 */
const ONLINE = 1;
const HAS_BDSEQ = 2;
const HAS_LASTSEQ = 4;

/** Fewest bytes of one node, device, alias and name entry (ByteReader.count bounds a count by what is left). */
const MIN_NODE = 6;
const MIN_DEVICE = 2;
const MIN_ALIAS = 4;
const MIN_NAME = 3;
const MIN_MISSING = 2;

export function encodeHostSnapshot(nodes: Iterable<EdgeNode>): Buffer {
  const list = [...nodes];
  const w = new ByteWriter(256 + list.length * 256);
  writeHeader(w, FORMATS.sparkplugSnapshot);
  w.uvar(list.length);
  for (const n of list) {
    w.str(n.group);
    w.str(n.edge);
    w.u8((n.online ? ONLINE : 0) | (n.bdSeq !== undefined ? HAS_BDSEQ : 0) | (n.lastSeq !== undefined ? HAS_LASTSEQ : 0));
    if (n.bdSeq !== undefined) w.uvar(n.bdSeq);
    if (n.lastSeq !== undefined) w.u8(n.lastSeq);
    w.uvar(n.devices.size);
    for (const [id, online] of n.devices) {
      w.str(id);
      w.u8(online ? 1 : 0);
    }
    w.uvar(n.aliases.size);
    for (const [alias, e] of n.aliases) {
      w.uvar(alias);
      w.u8(e.device !== undefined ? 1 : 0);
      if (e.device !== undefined) w.str(e.device);
      w.str(e.name);
      w.uvar(e.datatype);
    }
    w.uvar(n.names.size);
    for (const [key, datatype] of n.names) {
      const i = key.indexOf('\0');
      w.str(key.slice(0, i));
      w.str(key.slice(i + 1));
      w.uvar(datatype);
    }
    w.uvar(n.missing.size);
    for (const [seq, until] of n.missing) {
      w.u8(seq);
      w.num(until);
    }
    w.u8(n.rebirthAt !== undefined ? 1 : 0);
    if (n.rebirthAt !== undefined) w.num(n.rebirthAt);
    w.uvar(n.rebirths);
  }
  return w.finish();
}

/** Reads and validates the part; throws ByteFormatError naming the first problem. */
export function decodeHostSnapshot(bytes: Uint8Array): EdgeNode[] {
  return readBlob(bytes, FORMATS.sparkplugSnapshot, readNodes);
}

function flag(r: ByteReader, what: string): boolean {
  const b = r.u8();
  if (b > 1) throw new ByteFormatError(`sparkplug snapshot: bad ${what} flag ${b}`);
  return b === 1;
}

function readNodes(r: ByteReader): EdgeNode[] {
  const out: EdgeNode[] = [];
  const seen = new Set<string>();
  for (let i = r.count(MIN_NODE); i > 0; i--) {
    const n = newEdgeNode(r.str(), r.str());
    const key = `${n.group}/${n.edge}`;
    if (seen.has(key)) throw new ByteFormatError(`sparkplug snapshot: edge node ${key} twice`);
    seen.add(key);
    const flags = r.u8();
    if ((flags & ~(ONLINE | HAS_BDSEQ | HAS_LASTSEQ)) !== 0) throw new ByteFormatError(`sparkplug snapshot: bad node flags ${flags}`);
    n.online = (flags & ONLINE) !== 0;
    if ((flags & HAS_BDSEQ) !== 0) n.bdSeq = r.uvar();
    if ((flags & HAS_LASTSEQ) !== 0) n.lastSeq = r.u8();
    for (let d = r.count(MIN_DEVICE); d > 0; d--) {
      const id = r.str();
      n.devices.set(id, flag(r, 'device online'));
    }
    for (let a = r.count(MIN_ALIAS); a > 0; a--) {
      const alias = r.uvar();
      const device = flag(r, 'alias device') ? r.str() : undefined;
      n.aliases.set(alias, { device, name: r.str(), datatype: r.uvar() });
    }
    for (let k = r.count(MIN_NAME); k > 0; k--) {
      const device = r.str();
      const name = r.str();
      n.names.set(nameKey(device === '' ? undefined : device, name), r.uvar());
    }
    for (let k = r.count(MIN_MISSING); k > 0; k--) {
      const seq = r.u8();
      n.missing.set(seq, r.num());
    }
    if (flag(r, 'rebirthAt')) n.rebirthAt = r.num();
    n.rebirths = r.uvar();
    out.push(n);
  }
  return out;
}

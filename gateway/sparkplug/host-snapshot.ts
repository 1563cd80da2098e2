import { newEdgeNode, type AliasEntry, type EdgeNode } from './edge-node.js';

/**
 * The Sparkplug part of the gateway's checkpoint: per edge node its session (online, bdSeq, seq), devices and
 * alias map, so that DATA of a node that does not re-birth still decodes after a restart. Its own JSON layout,
 * versioned, beside the pipeline and alert parts (state/checkpoint-store.ts). What is only in flight (seqs
 * awaited, rebirth backoff) is not kept: after a restart a gap is detected afresh.
 */
export interface SparkplugSnapshotV1 {
  readonly v: 1;
  readonly nodes: readonly {
    readonly group: string;
    readonly edge: string;
    readonly online: boolean;
    readonly bdSeq: number | null;
    readonly lastSeq: number | null;
    readonly devices: readonly (readonly [string, boolean])[];
    /** [alias, device or null, name, datatype] */
    readonly aliases: readonly (readonly [number, string | null, string, number])[];
    /** [device or '', name, datatype] */
    readonly names: readonly (readonly [string, string, number])[];
  }[];
}

export function encodeHostSnapshot(nodes: Iterable<EdgeNode>): SparkplugSnapshotV1 {
  const out: SparkplugSnapshotV1['nodes'][number][] = [];
  for (const n of nodes) {
    out.push({
      group: n.group,
      edge: n.edge,
      online: n.online,
      bdSeq: n.bdSeq ?? null,
      lastSeq: n.lastSeq ?? null,
      devices: [...n.devices],
      aliases: [...n.aliases].map(([a, e]) => [a, e.device ?? null, e.name, e.datatype] as const),
      names: [...n.names].map(([k, t]) => {
        const i = k.indexOf('\0');
        return [k.slice(0, i), k.slice(i + 1), t] as const;
      }),
    });
  }
  return { v: 1, nodes: out };
}

export class SparkplugSnapshotError extends Error {}

const isInt = (x: unknown, max = Number.MAX_SAFE_INTEGER): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= max;
const isStr = (x: unknown): x is string => typeof x === 'string';

/** Validates and rebuilds the nodes; throws SparkplugSnapshotError naming the first problem. */
export function decodeHostSnapshot(raw: unknown): EdgeNode[] {
  const fail = (what: string): never => {
    throw new SparkplugSnapshotError(`sparkplug snapshot: ${what}`);
  };
  if (typeof raw !== 'object' || raw === null || (raw as { v?: unknown }).v !== 1) fail('not version 1');
  const nodes = (raw as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes)) return fail('nodes is not an array');
  return nodes.map((x: unknown, i): EdgeNode => {
    const r = x as Record<string, unknown>;
    if (typeof r !== 'object' || r === null || !isStr(r['group']) || !isStr(r['edge']) || typeof r['online'] !== 'boolean') fail(`node ${i}`);
    const n = newEdgeNode(r['group'] as string, r['edge'] as string);
    n.online = r['online'] as boolean;
    n.bdSeq = r['bdSeq'] === null ? undefined : isInt(r['bdSeq']) ? r['bdSeq'] : fail(`node ${i} bdSeq`);
    n.lastSeq = r['lastSeq'] === null ? undefined : isInt(r['lastSeq'], 255) ? r['lastSeq'] : fail(`node ${i} lastSeq`);
    for (const d of (Array.isArray(r['devices']) ? r['devices'] : fail(`node ${i} devices`)) as unknown[]) {
      if (!Array.isArray(d) || !isStr(d[0]) || typeof d[1] !== 'boolean') fail(`node ${i} device`);
      n.devices.set((d as [string, boolean])[0], (d as [string, boolean])[1]);
    }
    for (const a of (Array.isArray(r['aliases']) ? r['aliases'] : fail(`node ${i} aliases`)) as unknown[]) {
      if (!Array.isArray(a) || !isInt(a[0]) || !(a[1] === null || isStr(a[1])) || !isStr(a[2]) || !isInt(a[3])) fail(`node ${i} alias`);
      const [alias, device, name, datatype] = a as [number, string | null, string, number];
      n.aliases.set(alias, { device: device ?? undefined, name, datatype } satisfies AliasEntry);
    }
    for (const e of (Array.isArray(r['names']) ? r['names'] : fail(`node ${i} names`)) as unknown[]) {
      if (!Array.isArray(e) || !isStr(e[0]) || !isStr(e[1]) || !isInt(e[2])) fail(`node ${i} name`);
      const [device, name, datatype] = e as [string, string, number];
      n.names.set(`${device}\0${name}`, datatype);
    }
    return n;
  });
}

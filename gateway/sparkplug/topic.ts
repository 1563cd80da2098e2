/**
 * Sparkplug B topic namespace (Sparkplug 3.0, chapter 4.1 "Topic Namespace Elements"):
 *   spBv1.0/{group_id}/{message_type}/{edge_node_id}[/{device_id}]
 * NBIRTH, NDATA, NDEATH (and NCMD) name an edge node and have no device level; DBIRTH, DDATA, DDEATH (and DCMD)
 * have one. Host state is `spBv1.0/STATE/{host_id}` (section 4.2.3). Ids are UTF-8 strings without `/`, `+` or `#`
 * [tck-id-topic-structure-namespace-valid-group-id]; we also refuse empty ids and ids over 128 characters.
 */
export const NAMESPACE = 'spBv1.0/';

export type InboundType = 'NBIRTH' | 'NDATA' | 'NDEATH' | 'DBIRTH' | 'DDATA' | 'DDEATH';

export type SparkplugTopic =
  | { readonly kind: 'message'; readonly type: InboundType; readonly group: string; readonly edge: string; readonly device: string | undefined }
  | { readonly kind: 'invalid'; readonly detail: string };

const NODE_TYPES = new Set(['NBIRTH', 'NDATA', 'NDEATH']);
const DEVICE_TYPES = new Set(['DBIRTH', 'DDATA', 'DDEATH']);

function validId(id: string): boolean {
  if (id.length < 1 || id.length > 128) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c === 43 /* + */ || c === 35 /* # */ || c < 32) return false;
  }
  return true;
}

/**
 * True for the topics the gateway consumes: the six inbound message types. Commands (NCMD, DCMD) and STATE are
 * only routed. Called for every publish by the broker thread: no allocation.
 */
export function isSparkplugIngestTopic(topic: string): boolean {
  if (!topic.startsWith(NAMESPACE)) return false;
  const a = topic.indexOf('/', NAMESPACE.length);
  if (a < 0) return false;
  const b = topic.indexOf('/', a + 1);
  if (b < 0) return false;
  const t = topic.charCodeAt(a + 1);
  if (t !== 78 /* N */ && t !== 68 /* D */) return false;
  if (b - a - 1 === 5) return topic.startsWith('DATA', a + 2);
  return b - a - 1 === 6 && (topic.startsWith('BIRTH', a + 2) || topic.startsWith('DEATH', a + 2));
}

/** Parses an inbound Sparkplug topic; undefined when it is not one (isSparkplugIngestTopic false). */
export function parseSparkplugTopic(topic: string): SparkplugTopic | undefined {
  if (!isSparkplugIngestTopic(topic)) return undefined;
  const parts = topic.slice(NAMESPACE.length).split('/');
  const [group, type, edge, device] = parts as [string, string, string | undefined, string | undefined];
  const isNode = NODE_TYPES.has(type);
  if (!isNode && !DEVICE_TYPES.has(type)) return undefined;
  if (edge === undefined) return { kind: 'invalid', detail: `${type} topic has no edge node id` };
  if (isNode && parts.length !== 3) return { kind: 'invalid', detail: `${type} topic must be spBv1.0/{group}/${type}/{edge}` };
  if (!isNode && parts.length !== 4) return { kind: 'invalid', detail: `${type} topic must be spBv1.0/{group}/${type}/{edge}/{device}` };
  for (const id of parts) if (!validId(id)) return { kind: 'invalid', detail: `id ${JSON.stringify(id.slice(0, 64))} is empty, too long or holds + or #` };
  return { kind: 'message', type: type as InboundType, group, edge, device: isNode ? undefined : device };
}

export const ncmdTopic = (group: string, edge: string): string => `${NAMESPACE}${group}/NCMD/${edge}`;
export const stateTopic = (hostId: string): string => `${NAMESPACE}STATE/${hostId}`;

/**
 * The edge node of an inbound Sparkplug topic (isSparkplugIngestTopic true), `{group}/{edge}`: the pipeline device
 * id of the node's own metrics (edge-node.ts deviceId), a prefix of its devices' ids. One key for the node and its
 * devices, because they share one session (births, one alias map, one seq counter: spec 6.4.5, 6.4.6). A topic
 * too short to name an edge node (refused later as `bad_topic`) still gets a key: the same for the same topic.
 */
export function edgeNodeKey(topic: string): string {
  const a = topic.indexOf('/', NAMESPACE.length);
  const b = topic.indexOf('/', a + 1);
  const c = topic.indexOf('/', b + 1);
  return `${topic.slice(NAMESPACE.length, a)}/${topic.slice(b + 1, c < 0 ? topic.length : c)}`;
}

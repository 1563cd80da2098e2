import { isSparkplugIngestTopic } from '../sparkplug/topic.js';

/**
 * Sparkplug B topic rights (docs/sparkplug.md, "Access"). An edge node connects as the registered device whose
 * id is its edge node id; in any group it may publish its births, data and deaths (its NDEATH will included):
 *   spBv1.0/{group}/{NBIRTH|NDATA|NDEATH}/{edge}
 *   spBv1.0/{group}/{DBIRTH|DDATA|DDEATH}/{edge}/{device}
 * and subscribe to its own commands and to the host state:
 *   spBv1.0/{group or +}/NCMD/{edge}[/#],  spBv1.0/{group or +}/DCMD/{edge}/{device, + or #},  spBv1.0/STATE/#
 * `NCMD/{edge}/#` is what Eclipse Tahu's clients subscribe to: `#` also matches its parent level [MQTT-4.7.1-2], so
 * it receives the node's NCMD topic and nothing more (no NCMD topic has a level below the edge node id).
 * An anonymous client (loopback by default) has these rights for every edge node.
 */
export function sparkplugMayPublish(edge: string | undefined, topic: string): boolean {
  if (!isSparkplugIngestTopic(topic)) return false;
  if (edge === undefined) return true;
  const levels = topic.split('/');
  const node = levels[2]!.charCodeAt(0) === 78; /* N */
  return levels[3] === edge && levels.length === (node ? 4 : 5) && levels.every((l) => l.length > 0);
}

export function sparkplugMaySubscribe(edge: string | undefined, filter: string): boolean {
  if (filter === 'spBv1.0/STATE' || filter.startsWith('spBv1.0/STATE/')) return true;
  const levels = filter.split('/');
  if (levels[0] !== 'spBv1.0' || levels.length < 4) return false;
  const [, group, type, node, device] = levels as [string, string, string, string, string | undefined];
  if (group === '#' || group.length === 0) return false;
  if (edge === undefined ? node === '#' || node.length === 0 : node !== edge) return false;
  if (type === 'NCMD') return levels.length === 4 || (levels.length === 5 && device === '#');
  if (type === 'DCMD') return levels.length === 5 && device!.length > 0;
  return false;
}

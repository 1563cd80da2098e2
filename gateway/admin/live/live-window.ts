import type { FiringAlert, Severity } from '../../alerts/types.js';
import { isOnline, type LiveRecord, type LiveView, type SensorView } from './live-view.js';

/**
 * Windowed queries over the live view: the operator page asks for the rows it can show (filtered, sorted,
 * `offset`/`limit`), never for every sensor. At 100,000 sensors a whole snapshot is about 10 MB of JSON per
 * page; a window of 200 rows is about 40 kB.
 *
 * Cost: the name order (device, then sensor) is kept in an index rebuilt only when sensors were added; a query
 * in that order is one linear scan of precomputed lower-case keys (the filter) and a slice. Other orders sort
 * the matching sensors by a number (O(m log m)).
 */
export const SORT_KEYS = ['device', 'sensor', 'value', 'age', 'rate', 'alert', 'state'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface WindowQuery {
  /** Case-insensitive substring of the device id or the sensor name; '' matches all. */
  readonly q: string;
  readonly sort: SortKey;
  readonly desc: boolean;
  readonly offset: number;
  readonly limit: number;
}

export interface LiveWindow {
  /** Sensors matching the query. */
  readonly total: number;
  readonly offset: number;
  readonly rows: SensorView[];
}

/** A window and the records behind its rows (the SSE hub sends deltas for those only). */
export interface WindowResult {
  readonly window: LiveWindow;
  readonly records: readonly LiveRecord[];
}

export const MAX_WINDOW_ROWS = 500;
/** How long one filtered, sorted list of sensors serves further windows of the same query. */
export const ORDER_TTL_MS = 1000;
export const DEFAULT_QUERY: WindowQuery = { q: '', sort: 'device', desc: false, offset: 0, limit: 200 };

const SEVERITY_RANK: Record<Severity, number> = { info: 1, warning: 2, critical: 3 };

/**
 * Parses a query string's fields (the page's URL parameters). Bad values fall back to defaults: the page is
 * never refused for a stale bookmark; a q longer than 256 characters is cut.
 */
export function parseWindowQuery(params: Record<string, unknown>): WindowQuery {
  const str = (k: string) => (typeof params[k] === 'string' ? (params[k] as string) : undefined);
  const int = (k: string, dflt: number, max: number) => {
    const v = Number(str(k));
    return Number.isInteger(v) && v >= 0 ? Math.min(v, max) : dflt;
  };
  const sort = str('sort');
  return {
    q: (str('q') ?? '').slice(0, 256),
    sort: (SORT_KEYS as readonly string[]).includes(sort ?? '') ? (sort as SortKey) : 'device',
    desc: str('dir') === 'desc',
    offset: int('offset', 0, Number.MAX_SAFE_INTEGER),
    limit: int('limit', DEFAULT_QUERY.limit, MAX_WINDOW_ROWS),
  };
}

export class LiveWindows {
  private byName: LiveRecord[] = [];
  private lower: string[] = [];
  private indexedSize = -1;
  private readonly cache = new Map<string, { at: number; size: number; matched: LiveRecord[] }>();

  constructor(private readonly live: LiveView) {}

  /** `firing`: the alerts firing now (alert sort, and sensors known only from restored alert state). */
  query(q: WindowQuery, firing: readonly FiringAlert[], now: number): WindowResult {
    for (const a of firing) if (!this.live.has(a.device, a.sensor)) this.live.ensure(a.device, a.sensor);
    this.reindex();
    const matched = this.ordered(q, firing, now);
    const records = matched.slice(q.offset, q.offset + q.limit);
    return { window: { total: matched.length, offset: q.offset, rows: records.map((r) => this.live.viewOf(r, true)) }, records };
  }

  /**
   * The matching sensors in order. Cached for ORDER_TTL_MS per (filter, order) while no sensor was added: pages
   * scrolling through one order, and pages showing the same order, share one sort (at 100k sensors one costs
   * tens of ms; 64 pages re-sorting by value every 2 s each would be seconds of CPU).
   */
  private ordered(q: WindowQuery, firing: readonly FiringAlert[], now: number): LiveRecord[] {
    const key = `${q.sort}\u0000${q.desc}\u0000${q.q.toLowerCase()}`;
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.size === this.live.size && now - hit.at < ORDER_TTL_MS && now >= hit.at) return hit.matched;
    if (this.cache.size >= 32) this.cache.clear();
    const needle = q.q.toLowerCase();
    let matched: LiveRecord[];
    if (needle === '') matched = this.byName.slice();
    else {
      matched = [];
      for (let i = 0; i < this.byName.length; i++) if (this.lower[i]!.includes(needle)) matched.push(this.byName[i]!);
    }
    if (q.sort !== 'device') {
      const key = this.sortKey(q.sort, firing, now);
      // Stable over the name order; sensors without a value (null) last either way.
      const keys = new Map<LiveRecord, number>();
      for (const r of matched) keys.set(r, key(r));
      const sign = q.desc ? -1 : 1;
      matched.sort((a, b) => {
        const ka = keys.get(a)!;
        const kb = keys.get(b)!;
        if (Number.isNaN(ka) || Number.isNaN(kb)) return Number.isNaN(ka) ? (Number.isNaN(kb) ? 0 : 1) : -1;
        return ka === kb ? 0 : ka < kb ? -sign : sign;
      });
    } else if (q.desc) matched.reverse();
    this.cache.set(key, { at: now, size: this.live.size, matched });
    return matched;
  }

  /**
   * Devices seen and how many are offline: every sensor of theirs silent past its allowance, dead by Sparkplug
   * (markOffline), or with a noData alert firing on it (as the page shows each sensor).
   */
  devices(now: number, firing: readonly FiringAlert[] = []): { devices: number; offline: number; sensors: number } {
    const noData = new Set(firing.filter((a) => a.kind === 'noData').map((a) => `${a.device}\u0000${a.sensor}`));
    const online = new Map<string, boolean>();
    this.live.forEach((r) => {
      const on = isOnline(r, now) && (noData.size === 0 || !noData.has(`${r.device}\u0000${r.sensor}`));
      if (on || !online.has(r.device)) online.set(r.device, on || (online.get(r.device) ?? false));
    });
    let offline = 0;
    for (const on of online.values()) if (!on) offline++;
    return { devices: online.size, offline, sensors: this.live.size };
  }

  private reindex(): void {
    if (this.indexedSize === this.live.size) return;
    const recs: LiveRecord[] = [];
    this.live.forEach((r) => recs.push(r));
    recs.sort((a, b) => (a.device === b.device ? cmp(a.sensor, b.sensor) : cmp(a.device, b.device)));
    this.byName = recs;
    this.lower = recs.map((r) => `${r.device}\u0000${r.sensor}`.toLowerCase());
    this.indexedSize = this.live.size;
  }

  private sortKey(sort: SortKey, firing: readonly FiringAlert[], now: number): (r: LiveRecord) => number {
    switch (sort) {
      case 'value':
        return (r) => r.value ?? Number.NaN;
      case 'age':
        // Newest first when ascending, like "seconds ago"; never-read sensors last.
        return (r) => (r.ts === null ? Number.NaN : now - r.ts);
      case 'rate':
        return (r) => this.live.viewOf(r, false).perMinute;
      case 'state':
        // Offline first when ascending: the sensors that need a look.
        return (r) => (isOnline(r, now) ? 1 : 0);
      case 'alert': {
        const rank = new Map<string, number>();
        for (const a of firing) {
          const k = `${a.device}\u0000${a.sensor}`;
          rank.set(k, Math.max(rank.get(k) ?? 0, SEVERITY_RANK[a.severity]));
        }
        // Worst first when ascending.
        return (r) => -(rank.get(`${r.device}\u0000${r.sensor}`) ?? 0);
      }
      case 'sensor':
        return sensorRank(this.byName);
      default:
        return () => 0;
    }
  }
}

/** Position in sensor-then-device order (computed when asked; the name index is device-first). */
function sensorRank(byName: readonly LiveRecord[]): (r: LiveRecord) => number {
  const order = byName.slice().sort((a, b) => (a.sensor === b.sensor ? cmp(a.device, b.device) : cmp(a.sensor, b.sensor)));
  const pos = new Map<LiveRecord, number>();
  order.forEach((r, i) => pos.set(r, i));
  return (r) => pos.get(r)!;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

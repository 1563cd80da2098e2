import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FiringAlert } from '../../alerts/types.js';
import type { Logger } from '../../log.js';
import type { LiveRecord, LiveView, SensorView } from './live-view.js';
import { DEFAULT_QUERY, LiveWindows, type LiveWindow, type WindowQuery } from './live-window.js';

/**
 * Server-Sent Events for the operator page. Each page streams a *window* of the live view (a filter, an order,
 * an offset and a limit; live-window.ts), never the whole of it: at 100,000 sensors a snapshot per page was
 * 10 MB. Every `flushMs` the hub advances the live view's clock, drains the sensors that changed and sends each
 * page only those of its window (`sensors`); when sensors were added or the firing list changed, or every
 * `resortMs` for orders that change by themselves (value, age, rate, state, alert), the page gets its window
 * again (`window`). The page moves its window with GET /api/live/window?stream=<id>&... (setQuery).
 * Work per flush is O(changed sensors + firing alerts + window rows), and next to nothing while no page is
 * open: the changes wait in the live view's queue (one entry per sensor at most) and are discarded when the
 * first page connects, since its hello holds its window as it is. Building views for nobody every 500 ms took
 * 5-10 ms at 3k sensors, a pause that showed in the alert latency's p99 (BENCHMARKS.md).
 *
 * Events (each `data:` is one JSON object):
 *   hello    { now, stream, query, window: LiveWindow, firing: FiringAlert[], summary }
 *   sensors  { now, sensors: SensorView[] }       (changed sensors of this page's window; `windows` only where changed)
 *   window   { now, window: LiveWindow }           (the page's window again: new sensors, or a moving order)
 *   alerts   { now, firing: FiringAlert[] }
 *   summary  { now, sensors, devices, offline }    (when it changed; checked every `resortMs`)
 *   health   { now, health }                       (when it changed; checked every `resortMs`)
 */
export interface SseHubOptions {
  readonly live: LiveView;
  readonly firing: () => readonly FiringAlert[];
  readonly now: () => number;
  readonly log: Logger;
  readonly flushMs?: number;
  /** How often a window in a moving order (value, age, ...) is sorted again; default 2 s. */
  readonly resortMs?: number;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  readonly heartbeatMs?: number;
  readonly maxClients?: number;
  /** The gateway's health (what /health gives, plus rejected messages by reason), sent every resortMs when it changed. */
  readonly health?: () => Promise<Record<string, unknown>>;
}

/** A page that cannot keep up (this much unsent) is dropped; EventSource reconnects and gets a fresh hello. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

interface Client {
  readonly id: string;
  readonly res: ServerResponse;
  query: WindowQuery;
  visible: Set<LiveRecord>;
  sortedAt: number;
  /** Sensors were added since the window was computed. */
  stale: boolean;
}

export class SseHub {
  private readonly clients = new Map<string, Client>();
  private readonly windows: LiveWindows;
  private timer: NodeJS.Timeout | undefined;
  private lastFiring = '[]';
  private lastSummary = '';
  private summaryAt = Number.NEGATIVE_INFINITY;
  private lastSize = -1;
  private lastWrite = 0;
  private lastHealth = '';
  private healthBusy = false;

  constructor(private readonly opts: SseHubOptions) {
    this.windows = new LiveWindows(opts.live);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), this.opts.flushMs ?? 500);
    this.timer.unref();
  }

  /** Ends every stream (before the HTTP server closes, which would otherwise wait for them) and the timer. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const c of this.clients.values()) c.res.end();
    this.clients.clear();
  }

  /**
   * Takes over a hijacked request; `query` is the page's first window. Returns false (nothing written) when
   * the hub is full.
   */
  attach(req: IncomingMessage, res: ServerResponse, query: WindowQuery = DEFAULT_QUERY): boolean {
    if (this.clients.size >= (this.opts.maxClients ?? 64)) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const firing = this.opts.firing();
    const now = this.opts.now();
    if (this.clients.size === 0) {
      // The hello holds the window as it is: what changed while nobody watched is in it.
      this.opts.live.discard();
      this.lastFiring = JSON.stringify(firing);
    }
    const client: Client = { id: randomUUID(), res, query, visible: new Set(), sortedAt: now, stale: false };
    const { window, records } = this.windows.query(query, firing, now);
    client.visible = new Set(records);
    const summary = this.windows.devices(now, firing);
    res.write('retry: 2000\n');
    res.write(event('hello', { now, stream: client.id, query, window, firing, summary }));
    this.clients.set(client.id, client);
    const drop = () => this.clients.delete(client.id);
    void this.sendHealth(true);
    req.on('close', drop);
    res.on('error', drop);
    return true;
  }

  /**
   * The window of `query`, now; when `stream` names an open page, that page's window moves there (its deltas
   * follow). Unknown streams get the window all the same (the page reconnects and says so in its next hello).
   */
  setQuery(stream: string | undefined, query: WindowQuery): LiveWindow {
    const now = this.opts.now();
    const { window, records } = this.windows.query(query, this.opts.firing(), now);
    const client = stream === undefined ? undefined : this.clients.get(stream);
    if (client !== undefined) {
      client.query = query;
      client.visible = new Set(records);
      client.sortedAt = now;
      client.stale = false;
    }
    return window;
  }

  /**
   * Sends the health to every page when it changed (`all`: to every page whatever, e.g. the one that just
   * connected). Asynchronous (metrics are read through prom-client's async API); one at a time.
   */
  async sendHealth(all: boolean): Promise<void> {
    if (this.opts.health === undefined || this.healthBusy) return;
    this.healthBusy = true;
    try {
      const json = JSON.stringify(await this.opts.health());
      if (json === this.lastHealth && !all) return;
      this.lastHealth = json;
      const out = `event: health\ndata: {"now":${this.opts.now()},"health":${json}}\n\n`;
      for (const c of this.clients.values()) c.res.write(out);
    } catch (err) {
      this.opts.log.warn({ err }, 'operator page: health could not be read');
    } finally {
      this.healthBusy = false;
    }
  }

  /** One batch: called by the timer; public so tests can drive it. */
  flush(): void {
    const now = this.opts.now();
    this.opts.live.tick(now);
    if (this.clients.size === 0) return;
    const firing = this.opts.firing();
    const firingJson = JSON.stringify(firing);
    const firingChanged = firingJson !== this.lastFiring;
    this.lastFiring = firingJson;
    if (firingChanged) for (const a of firing) if (!this.opts.live.has(a.device, a.sensor)) this.opts.live.ensure(a.device, a.sensor);
    // Every client's changed rows, each view built once.
    const deltas = new Map<Client, SensorView[]>();
    this.opts.live.drainEach((rec, windowsChanged) => {
      let view: SensorView | undefined;
      for (const c of this.clients.values()) {
        if (!c.visible.has(rec)) continue;
        view ??= this.opts.live.viewOf(rec, windowsChanged);
        const list = deltas.get(c);
        if (list === undefined) deltas.set(c, [view]);
        else list.push(view);
      }
    });
    const added = this.opts.live.size !== this.lastSize;
    this.lastSize = this.opts.live.size;
    const resortMs = this.opts.resortMs ?? 2000;
    let summaryOut = '';
    if (added || now - this.summaryAt >= resortMs) {
      this.summaryAt = now;
      void this.sendHealth(false);
      const summary = JSON.stringify({ now, ...this.windows.devices(now, firing) });
      const key = summary.slice(summary.indexOf(','));
      if (key !== this.lastSummary) {
        this.lastSummary = key;
        summaryOut = `event: summary\ndata: ${summary}\n\n`;
      }
    }
    const alertsOut = firingChanged ? `event: alerts\ndata: {"now":${now},"firing":${firingJson}}\n\n` : '';
    const heartbeat = now - this.lastWrite >= (this.opts.heartbeatMs ?? 15_000);
    let wrote = false;
    for (const c of this.clients.values()) {
      if (c.res.writableLength > MAX_BUFFERED_BYTES) {
        this.opts.log.warn({ buffered: c.res.writableLength }, 'operator page too slow for the live stream: dropped (it reconnects)');
        this.clients.delete(c.id);
        c.res.destroy();
        continue;
      }
      let out = '';
      // New sensors (or, in alert order, a changed firing list) and moving orders re-query the window, at most
      // every resortMs: at 100k sensors a re-sort costs tens of ms, and devices joining one by one would do it per flush.
      if (added || (firingChanged && c.query.sort === 'alert')) c.stale = true;
      const moving = c.query.sort !== 'device' && c.query.sort !== 'sensor';
      if ((c.stale || moving) && now - c.sortedAt >= resortMs) {
        c.sortedAt = now;
        c.stale = false;
        const { window, records } = this.windows.query(c.query, firing, now);
        c.visible = new Set(records);
        out += event('window', { now, window });
      } else {
        const changed = deltas.get(c);
        if (changed !== undefined) out += event('sensors', { now, sensors: changed });
      }
      out += alertsOut + summaryOut;
      if (out === '' && heartbeat) out = ': keep-alive\n\n';
      if (out === '') continue;
      wrote = true;
      c.res.write(out);
    }
    if (wrote) this.lastWrite = now;
  }
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FiringAlert } from '../../alerts/types.js';
import type { Logger } from '../../log.js';
import type { LiveView } from './live-view.js';

/**
 * Server-Sent Events for the operator page. Every `flushMs` the hub advances the live view's clock, drains the
 * sensors that changed and sends them to every page in one `sensors` event; the firing alerts are sent as an
 * `alerts` event whenever that list changed. A page that connects first gets a `hello` with everything.
 * Work per flush is O(changed sensors + firing alerts), independent of the reading rate, and next to nothing
 * while no page is open: the changes wait in the live view's queue (one entry per sensor at most) and the first
 * page to connect gets everything in its hello, so they are discarded then. Building those views for nobody
 * every 500 ms took 5-10 ms at 3k sensors, a pause that showed in the alert latency's p99 (BENCHMARKS.md).
 *
 * Events (each `data:` is one JSON object):
 *   hello    { now, sensors: SensorView[], firing: FiringAlert[] }
 *   sensors  { now, sensors: SensorView[] }       (only the changed ones; `windows` only where they changed)
 *   alerts   { now, firing: FiringAlert[] }
 */
export interface SseHubOptions {
  readonly live: LiveView;
  readonly firing: () => readonly FiringAlert[];
  readonly now: () => number;
  readonly log: Logger;
  readonly flushMs?: number;
  /** A comment line this often keeps proxies from closing a quiet stream. */
  readonly heartbeatMs?: number;
  readonly maxClients?: number;
}

/** A page that cannot keep up (this much unsent) is dropped; EventSource reconnects and gets a fresh hello. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

export class SseHub {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private lastFiring = '[]';
  private lastWrite = 0;

  constructor(private readonly opts: SseHubOptions) {}

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
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  /** Takes over a hijacked request. Returns false (nothing written) when the hub is full. */
  attach(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.clients.size >= (this.opts.maxClients ?? 64)) return false;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const firing = this.opts.firing();
    if (this.clients.size === 0) {
      // The hello holds every sensor and alert: what changed while nobody watched is in it.
      this.opts.live.discard();
      this.lastFiring = JSON.stringify(firing);
    }
    res.write('retry: 2000\n');
    res.write(event('hello', { now: this.opts.now(), sensors: this.opts.live.snapshot(), firing }));
    this.clients.add(res);
    const drop = () => this.clients.delete(res);
    req.on('close', drop);
    res.on('error', drop);
    return true;
  }

  /** One batch: called by the timer; public so tests can drive it. */
  flush(): void {
    const now = this.opts.now();
    this.opts.live.tick(now);
    if (this.clients.size === 0) return;
    const changed = this.opts.live.drain();
    let out = '';
    if (changed.length > 0) out += event('sensors', { now, sensors: changed });
    const firing = this.opts.firing();
    const firingJson = JSON.stringify(firing);
    if (firingJson !== this.lastFiring) {
      this.lastFiring = firingJson;
      out += `event: alerts\ndata: {"now":${now},"firing":${firingJson}}\n\n`;
    }
    if (out === '' && now - this.lastWrite >= (this.opts.heartbeatMs ?? 15_000)) out = ': keep-alive\n\n';
    if (out === '') return;
    this.lastWrite = now;
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        this.opts.log.warn({ buffered: res.writableLength }, 'operator page too slow for the live stream: dropped (it reconnects)');
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(out);
    }
  }
}

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

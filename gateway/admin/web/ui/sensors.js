// @ts-check
import { gatewayState, onGateway, setFiringList, setGatewayUp, setHealth } from './connection.js';
import { buildRow } from './sensor-row.js';
import { api, compileGlob, debounce, el } from './util.js';

/**
 * Sensors view: a virtual table over a window of the gateway's live view. The gateway filters and sorts
 * (GET /api/live/window); the page holds one window of rows (WINDOW rows around what is on screen) and keeps
 * in the DOM only the rows that are visible (plus a few), between two spacer rows that give the scroll bar its
 * full height. The live stream (/api/live/events) sends only the changed rows of that window; a batch
 * re-renders only if a visible row changed, once per animation frame. Search and order live in the URL.
 *
 * @typedef {import('./sensor-row.js').SensorView} SensorView
 * @typedef {import('./sensor-row.js').FiringAlert} FiringAlert
 * @typedef {{ total: number, offset: number, rows: SensorView[] }} LiveWindow
 * @typedef {{ sensors: number, devices: number, offline: number }} Summary
 */

/** Row height in px (style.css: .sensors tr.row); the virtual table needs every row the same height. */
const ROW_H = 38;
/** Rows rendered above and below the visible ones. */
const OVERSCAN = 8;
/** Rows fetched per window (the server's limit is 500). */
const WINDOW = 200;
const SORTS = ['device', 'sensor', 'state', 'value', 'age', 'rate', 'alert'];

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const keyOf = (/** @type {string} */ d, /** @type {string} */ s) => `${d}\u0000${s}`;

export function startSensors() {
  const scroller = $('sensor-scroll');
  const tbody = $('sensor-rows');
  const empty = $('sensors-empty');
  const summaryEl = $('sensor-summary');
  const conn = $('conn');
  const banner = $('gw-banner');
  const search = /** @type {HTMLInputElement} */ ($('sensor-search'));
  const headers = /** @type {HTMLElement[]} */ ([...document.querySelectorAll('th[data-sort]')]);

  const params = new URLSearchParams(location.search);
  const query = {
    q: params.get('q') ?? '',
    sort: SORTS.includes(params.get('sort') ?? '') ? /** @type {string} */ (params.get('sort')) : 'device',
    dir: params.get('dir') === 'desc' ? 'desc' : 'asc',
  };
  search.value = query.q;

  /** @type {LiveWindow} */
  let win = { total: 0, offset: 0, rows: [] };
  /** @type {Map<string, number>} index in win.rows */
  let index = new Map();
  /** @type {Map<string, FiringAlert[]>} */
  let firingBySensor = new Map();
  let firingCount = 0;
  /** @type {Summary} */
  let summary = { sensors: 0, devices: 0, offline: 0 };
  let clockOffset = 0; // gateway clock - browser clock
  let lastMessageAt = 0; // gateway time of the last message (ages freeze there while the gateway is unreachable)
  let stream = '';
  let requested = -1; // offset of the window asked for and not yet received
  let seq = 0;
  let frame = 0;
  /** Rendered rows by the view they show: a row whose view did not change is not built again. @type {WeakMap<SensorView, { tr: HTMLTableRowElement, same: boolean }>} */
  let built = new WeakMap();
  /** @type {[number, number]} rendered rows [first, last) */
  let rendered = [0, 0];

  const clock = () => {
    const frozen = !gatewayState().up;
    return { now: frozen ? lastMessageAt : Date.now() + clockOffset, frozen };
  };

  /** @param {LiveWindow} w */
  function setWindow(w) {
    win = w;
    index = new Map(w.rows.map((v, i) => [keyOf(v.device, v.sensor), i]));
    requested = -1;
    schedule();
  }

  function schedule() {
    if (frame === 0) frame = requestAnimationFrame(render);
  }

  /** Renders the visible rows; asks for another window when they are outside the one held. */
  function render() {
    frame = 0;
    const height = scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(win.total, first + Math.ceil(height / ROW_H) + 2 * OVERSCAN);
    if (win.total > 0 && (first < win.offset || last > win.offset + win.rows.length)) fetchWindow(Math.max(0, first - (WINDOW - (last - first)) / 2));
    const c = clock();
    const trs = [];
    for (let i = first; i < last; i++) {
      const v = win.rows[i - win.offset];
      if (v === undefined) {
        trs.push(el('tr', { class: 'row loading' }, el('td', { colspan: '8', text: '…' })));
        continue;
      }
      const prev = win.rows[i - win.offset - 1];
      const same = i > first && prev?.device === v.device;
      let b = built.get(v);
      if (b === undefined || b.same !== same) {
        b = { tr: buildRow(v, firingBySensor.get(keyOf(v.device, v.sensor)) ?? [], c, same, limitsOf(v.device, v.sensor)), same };
        built.set(v, b);
      }
      trs.push(b.tr);
    }
    const top = el('tr', { class: 'spacer', 'aria-hidden': 'true' });
    top.style.height = `${first * ROW_H}px`;
    const bottom = el('tr', { class: 'spacer', 'aria-hidden': 'true' });
    bottom.style.height = `${Math.max(0, win.total - last) * ROW_H}px`;
    tbody.replaceChildren(top, ...trs, bottom);
    rendered = [first, last];
    empty.hidden = win.total > 0;
    empty.textContent = query.q === '' ? 'No sensors yet. They appear here as soon as devices publish.' : `No sensor matches “${query.q}”.`;
    renderSummary();
  }

  function renderSummary() {
    const matching = query.q === '' ? '' : ` matching “${query.q}” (of ${summary.sensors})`;
    summaryEl.replaceChildren(
      el('strong', { text: String(win.total) }),
      ` sensor${win.total === 1 ? '' : 's'}${matching} · `,
      el('strong', { text: String(summary.devices) }),
      ` device${summary.devices === 1 ? '' : 's'}, `,
      summary.offline > 0 ? el('span', { class: 'offline-count', text: `${summary.offline} offline` }) : 'all online',
      ' · ',
      firingCount > 0 ? el('span', { class: 'firing', text: `${firingCount} alert${firingCount === 1 ? '' : 's'} firing` }) : 'no alerts firing',
    );
  }

  const windowParams = (/** @type {number} */ offset) =>
    new URLSearchParams({ q: query.q, sort: query.sort, dir: query.dir, offset: String(Math.round(offset)), limit: String(WINDOW) });

  /** @param {number} offset */
  function fetchWindow(offset) {
    if (requested === Math.round(offset)) return;
    requested = Math.round(offset);
    const mine = ++seq;
    const p = windowParams(offset);
    if (stream) p.set('stream', stream);
    api(`/api/live/window?${p}`)
      .then(async (res) => {
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const w = await res.json();
        if (mine === seq) setWindow(w);
      })
      .catch(() => {
        if (mine === seq) requested = -1;
      });
  }

  /** New search or order: back to the top, URL updated (replaceState: no history entry per keystroke). */
  function requery() {
    const p = new URLSearchParams(location.search);
    for (const [k, v, d] of [
      ['q', query.q, ''],
      ['sort', query.sort, 'device'],
      ['dir', query.dir, 'asc'],
    ]) {
      if (v === d) p.delete(/** @type {string} */ (k));
      else p.set(/** @type {string} */ (k), /** @type {string} */ (v));
    }
    const qs = p.toString();
    history.replaceState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}${location.hash}`);
    for (const th of headers) {
      const on = th.dataset['sort'] === query.sort;
      th.setAttribute('aria-sort', on ? (query.dir === 'asc' ? 'ascending' : 'descending') : 'none');
    }
    scroller.scrollTop = 0;
    requested = -1;
    fetchWindow(0);
  }

  /** The threshold rules' limits, for the lines on the sparklines (refreshed every 30 s). @type {{ device: (s: string) => boolean, sensor: (s: string) => boolean, limits: number[] }[]} */
  let limitRules = [];
  /** @type {Map<string, number[]>} */
  let limitCache = new Map();
  /** @param {string} device @param {string} sensor */
  function limitsOf(device, sensor) {
    const k = keyOf(device, sensor);
    let l = limitCache.get(k);
    if (l === undefined) {
      l = limitRules.filter((r) => r.device(device) && r.sensor(sensor)).flatMap((r) => r.limits);
      limitCache.set(k, l);
    }
    return l;
  }
  async function loadLimits() {
    const res = await api('/api/thresholds');
    if (!res.ok) return;
    const { rules } = await res.json();
    limitRules = rules
      .filter((/** @type {{ kind: string }} */ r) => r.kind === 'threshold')
      .map((/** @type {{ match: { device: string, sensor: string }, above: number | null, below: number | null }} */ r) => ({
        device: compileGlob(r.match.device),
        sensor: compileGlob(r.match.sensor),
        limits: [r.above, r.below].filter((x) => x !== null),
      }));
    limitCache = new Map();
    built = new WeakMap();
    schedule();
  }
  void loadLimits().catch(() => undefined);
  setInterval(() => void loadLimits().catch(() => undefined), 30_000);

  /** @param {FiringAlert[]} firing */
  function setFiring(firing) {
    setFiringList(firing);
    firingCount = firing.length;
    firingBySensor = new Map();
    for (const a of firing) {
      const k = keyOf(a.device, a.sensor);
      const list = firingBySensor.get(k) ?? [];
      list.push(a);
      firingBySensor.set(k, list);
    }
    built = new WeakMap();
    schedule();
  }

  /** @param {number} now */
  const syncClock = (now) => {
    clockOffset = now - Date.now();
    lastMessageAt = now;
  };

  /** @param {string} name @param {(msg: any) => void} fn */
  const on = (name, fn) =>
    source?.addEventListener(name, (e) => {
      const msg = JSON.parse(/** @type {MessageEvent} */ (e).data);
      syncClock(msg.now);
      fn(msg);
    });

  /** @type {EventSource | undefined} */
  let source;
  function connect() {
    const p = windowParams(Math.max(0, Math.floor(scroller.scrollTop / ROW_H) - WINDOW / 4));
    source = new EventSource(`/api/live/events?${p}`);
    on('hello', (msg) => {
      stream = msg.stream;
      summary = msg.summary;
      setFiring(msg.firing);
      setWindow(msg.window);
      setGatewayUp(true);
    });
    on('window', (msg) => {
      // A window the page asked for since is newer: this one is only the stream catching up.
      if (requested === -1) setWindow(msg.window);
    });
    on('sensors', (msg) => {
      let visible = false;
      for (const v of /** @type {SensorView[]} */ (msg.sensors)) {
        const i = index.get(keyOf(v.device, v.sensor));
        if (i === undefined) continue;
        const old = win.rows[i];
        win.rows[i] = { ...v, windows: v.windows ?? old?.windows ?? [] };
        const at = win.offset + i;
        if (at >= rendered[0] && at < rendered[1]) visible = true;
      }
      if (visible) schedule();
    });
    on('alerts', (msg) => setFiring(msg.firing));
    on('health', (msg) => setHealth(msg.health, msg.now));
    on('summary', (msg) => {
      summary = msg;
      renderSummary();
    });
    source.addEventListener('error', () => {
      setGatewayUp(false);
      if (source?.readyState === EventSource.CLOSED) {
        // The server refused the stream (logged out, too many pages): find out why, then try again.
        api('/api/live').catch(() => undefined);
        setTimeout(connect, 3000);
      }
    });
  }

  onGateway((s) => {
    conn.textContent = s.up ? 'live' : s.everUp ? 'gateway unreachable' : 'connecting…';
    conn.className = `conn ${s.up ? 'conn-on' : 'conn-off'}`;
    document.body.classList.toggle('gw-down', !s.up && s.everUp);
    if (!s.up && s.everUp) {
      banner.textContent = `Lost contact with the gateway at ${new Date(s.since).toLocaleTimeString()}. The values shown are as of then (ages stopped); saving is disabled until it answers again. Retrying…`;
      banner.hidden = false;
    } else banner.hidden = true;
    built = new WeakMap();
    schedule();
  });

  scroller.addEventListener('scroll', schedule, { passive: true });
  window.addEventListener('resize', schedule);
  // Each query scans every sensor on the gateway: typing sends one when the keys pause, not one per key.
  search.addEventListener(
    'input',
    debounce(() => {
      query.q = search.value.trim();
      requery();
    }, 150),
  );
  for (const th of headers) {
    const sortBy = () => {
      const key = th.dataset['sort'] ?? 'device';
      query.dir = query.sort === key && query.dir === 'asc' ? 'desc' : 'asc';
      query.sort = key;
      requery();
    };
    th.querySelector('button')?.addEventListener('click', sortBy);
  }
  for (const th of headers) th.setAttribute('aria-sort', th.dataset['sort'] === query.sort ? (query.dir === 'asc' ? 'ascending' : 'descending') : 'none');
  // Ages and online states move with time: the rendered rows (a screenful) are built again every second.
  setInterval(() => {
    if (!gatewayState().up) return;
    built = new WeakMap();
    schedule();
  }, 1000);
  connect();
}

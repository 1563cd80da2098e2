// @ts-check
import { api, compileGlob, el, formatAge, formatValue } from './util.js';

/**
 * Sensors view: one row per (device, sensor), fed by the gateway's Server-Sent Events (/api/live/events).
 * Rows are updated in place; only sensors that changed arrive in each batch.
 *
 * @typedef {{ device: string, sensor: string, value: number | null, ts: number | null, perMinute: number, windows?: [number, number][], offline?: true }} SensorView
 * @typedef {{ rule: string, kind: string, device: string, sensor: string, severity: 'info' | 'warning' | 'critical', since: number, firedAt: number, value: number, threshold: number | null }} FiringAlert
 * @typedef {{ view: SensorView, tr: HTMLTableRowElement, cells: { value: HTMLElement, age: HTMLElement, rate: HTMLElement, spark: HTMLElement, alert: HTMLElement } }} Row
 */

const SEVERITY_RANK = { info: 1, warning: 2, critical: 3 };
/** A sensor silent for longer than this is shown as stale. */
const STALE_MS = 5 * 60_000;

export function startSensors() {
  const tbody = /** @type {HTMLTableSectionElement} */ (document.getElementById('sensor-rows'));
  const empty = /** @type {HTMLElement} */ (document.getElementById('sensors-empty'));
  const summary = /** @type {HTMLElement} */ (document.getElementById('sensor-summary'));
  const conn = /** @type {HTMLElement} */ (document.getElementById('conn'));
  const filterInput = /** @type {HTMLInputElement} */ (document.getElementById('device-filter'));

  /** @type {Map<string, Row>} */
  const rows = new Map();
  /** @type {Map<string, FiringAlert[]>} */
  let firingBySensor = new Map();
  let firingCount = 0;
  let clockOffset = 0; // gateway clock - browser clock
  let matches = compileGlob('');

  /** @param {string} d @param {string} s */
  const keyOf = (d, s) => `${d}\u0000${s}`;

  /** @param {SensorView} v */
  function createRow(v) {
    const cells = {
      value: el('td', { class: 'num value' }),
      age: el('td', { class: 'age' }),
      rate: el('td', { class: 'num rate' }),
      spark: el('td', { class: 'spark-cell' }),
      alert: el('td', { class: 'alert' }),
    };
    const tr = /** @type {HTMLTableRowElement} */ (
      el('tr', { 'data-device': v.device, 'data-sensor': v.sensor }, el('td', { class: 'device', text: v.device }), el('td', { class: 'sensor', text: v.sensor }), cells.value, cells.age, cells.rate, cells.spark, cells.alert)
    );
    /** @type {Row} */
    const row = { view: v, tr, cells };
    rows.set(keyOf(v.device, v.sensor), row);
    return row;
  }

  /** @param {SensorView} v */
  function upsert(v) {
    const key = keyOf(v.device, v.sensor);
    let row = rows.get(key);
    let added = false;
    if (row === undefined) {
      row = createRow(v);
      added = true;
    } else {
      // Deltas leave `windows` out when they did not change.
      row.view = { ...v, windows: v.windows ?? row.view.windows ?? [] };
    }
    renderRow(row, v.windows !== undefined);
    return added;
  }

  /** @param {Row} row @param {boolean} windowsChanged */
  function renderRow(row, windowsChanged) {
    const v = row.view;
    row.cells.value.textContent = v.value === null ? '–' : formatValue(v.value);
    row.cells.rate.textContent = String(v.perMinute);
    renderAge(row);
    if (windowsChanged) renderSpark(row.cells.spark, v.windows ?? []);
    renderAlert(row);
  }

  /** @param {Row} row */
  function renderAge(row) {
    const ts = row.view.ts;
    // Its Sparkplug edge node or device died (NDEATH/DDEATH): offline until it sends again.
    row.cells.age.classList.toggle('offline', row.view.offline === true);
    if (row.view.offline === true) {
      row.cells.age.textContent = 'offline';
      row.cells.age.title = ts === null ? '' : `last reading ${new Date(ts).toLocaleString()}`;
      return;
    }
    if (ts === null) {
      row.cells.age.textContent = '–';
      return;
    }
    const age = Date.now() + clockOffset - ts;
    row.cells.age.textContent = formatAge(age);
    row.cells.age.title = new Date(ts).toLocaleString();
    row.cells.age.classList.toggle('stale', age > STALE_MS);
  }

  /** @param {Row} row */
  function renderAlert(row) {
    const firing = firingBySensor.get(keyOf(row.view.device, row.view.sensor)) ?? [];
    let worst = '';
    let rank = 0;
    const badges = firing.map((a) => {
      if (SEVERITY_RANK[a.severity] > rank) {
        rank = SEVERITY_RANK[a.severity];
        worst = a.severity;
      }
      const limit = a.threshold === null ? 'no data' : `limit ${formatValue(a.threshold)}`;
      return el('span', { class: `badge ${a.severity}`, title: `${a.severity}: ${a.rule} (${limit}) since ${new Date(a.since).toLocaleString()}`, text: a.rule });
    });
    row.cells.alert.replaceChildren(...(badges.length > 0 ? badges : [el('span', { class: 'state-ok', text: 'ok' })]));
    for (const sev of ['info', 'warning', 'critical']) row.tr.classList.toggle(`sev-${sev}`, sev === worst);
  }

  /** @param {HTMLElement} cell @param {[number, number][]} windows */
  function renderSpark(cell, windows) {
    if (windows.length < 2) {
      cell.replaceChildren();
      return;
    }
    const w = 120;
    const h = 26;
    const means = windows.map((x) => x[1]);
    const lo = Math.min(...means);
    const hi = Math.max(...means);
    const span = hi - lo || 1;
    const step = w / (windows.length - 1);
    const points = means.map((m, i) => [i * step, h - 3 - ((m - lo) / span) * (h - 6)]);
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', String(w + 4));
    svg.setAttribute('height', String(h));
    svg.setAttribute('viewBox', `-2 0 ${w + 4} ${h}`);
    const title = document.createElementNS(ns, 'title');
    title.textContent = `last ${windows.length} window means: ${formatValue(lo)} … ${formatValue(hi)}`;
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', points.map(([x, y]) => `${x?.toFixed(1)},${y?.toFixed(1)}`).join(' '));
    const last = points[points.length - 1] ?? [0, 0];
    const dot = document.createElementNS(ns, 'circle');
    dot.setAttribute('cx', String(last[0]));
    dot.setAttribute('cy', String(last[1]));
    dot.setAttribute('r', '2');
    svg.append(title, line, dot);
    cell.replaceChildren(svg);
  }

  function sortRows() {
    const sorted = [...rows.values()].sort((a, b) =>
      a.view.device === b.view.device ? (a.view.sensor < b.view.sensor ? -1 : 1) : a.view.device < b.view.device ? -1 : 1,
    );
    tbody.replaceChildren(...sorted.map((r) => r.tr));
  }

  /** Applies the device filter; repeated device names are greyed out to make groups readable. */
  function applyFilter() {
    let shown = 0;
    let prevDevice = '';
    const devices = new Set();
    for (const tr of tbody.rows) {
      const device = tr.dataset['device'] ?? '';
      const visible = matches(device);
      tr.hidden = !visible;
      if (!visible) continue;
      shown++;
      devices.add(device);
      tr.classList.toggle('same-device', device === prevDevice);
      prevDevice = device;
    }
    empty.hidden = rows.size > 0;
    summary.replaceChildren(
      el('strong', { text: String(shown) }),
      ` sensor${shown === 1 ? '' : 's'} on `,
      el('strong', { text: String(devices.size) }),
      ` device${devices.size === 1 ? '' : 's'}`,
      shown < rows.size ? ` (of ${rows.size})` : '',
      ' · ',
      firingCount > 0 ? el('span', { class: 'firing', text: `${firingCount} alert${firingCount === 1 ? '' : 's'} firing` }) : 'no alerts firing',
    );
  }

  /** @param {FiringAlert[]} firing */
  function setFiring(firing) {
    firingCount = firing.length;
    firingBySensor = new Map();
    for (const a of firing) {
      const k = keyOf(a.device, a.sensor);
      const list = firingBySensor.get(k) ?? [];
      list.push(a);
      firingBySensor.set(k, list);
    }
    for (const row of rows.values()) renderAlert(row);
  }

  /** @param {number} now */
  const syncClock = (now) => {
    clockOffset = now - Date.now();
  };

  /** @type {EventSource | undefined} */
  let source;
  function connect() {
    source = new EventSource('/api/live/events');
    source.addEventListener('hello', (e) => {
      const msg = JSON.parse(/** @type {MessageEvent} */ (e).data);
      syncClock(msg.now);
      rows.clear();
      for (const v of msg.sensors) createRow(v);
      setFiring(msg.firing);
      for (const row of rows.values()) renderRow(row, true);
      sortRows();
      applyFilter();
      conn.textContent = 'live';
      conn.className = 'conn conn-on';
    });
    source.addEventListener('sensors', (e) => {
      const msg = JSON.parse(/** @type {MessageEvent} */ (e).data);
      syncClock(msg.now);
      let added = false;
      for (const v of msg.sensors) added = upsert(v) || added;
      if (added) sortRows();
      applyFilter();
    });
    source.addEventListener('alerts', (e) => {
      const msg = JSON.parse(/** @type {MessageEvent} */ (e).data);
      syncClock(msg.now);
      setFiring(msg.firing);
      applyFilter();
    });
    source.addEventListener('error', () => {
      conn.textContent = 'reconnecting…';
      conn.className = 'conn conn-off';
      if (source?.readyState === EventSource.CLOSED) {
        // The server refused the stream (logged out, too many pages): find out why, then try again.
        api('/api/live').catch(() => undefined);
        setTimeout(connect, 3000);
      }
    });
  }

  filterInput.addEventListener('input', () => {
    matches = compileGlob(filterInput.value.trim());
    applyFilter();
  });
  setInterval(() => {
    for (const row of rows.values()) if (!row.tr.hidden) renderAge(row);
  }, 1000);
  connect();
}

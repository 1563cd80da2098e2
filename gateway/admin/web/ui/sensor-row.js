// @ts-check
import { compileGlob, el, formatAge, formatValue } from './util.js';

/**
 * One row of the sensors table, built from a SensorView and the alerts firing on it. Pure DOM building: the
 * virtual table (sensors.js) decides which rows exist at all.
 *
 * @typedef {{ device: string, sensor: string, value: number | null, ts: number | null, perMinute: number, windows?: [number, number][], arrived: number | null, offlineAfterMs: number, offline?: true }} SensorView
 * @typedef {{ rule: string, kind: string, device: string, sensor: string, severity: 'info' | 'warning' | 'critical', since: number, firedAt: number, value: number, threshold: number | null }} FiringAlert
 * @typedef {{ now: number, frozen: boolean }} Clock  gateway time now; frozen: the gateway is unreachable (ages stop)
 */

const SEVERITY_RANK = { info: 1, warning: 2, critical: 3 };
/** http.grafanaUrl, given to the page in a meta tag: `{device}` and `{sensor}` are filled in per row. */
const GRAFANA = document.querySelector('meta[name="grafana-url"]')?.getAttribute('content') ?? '';
/** http.units (sensor name glob -> unit), given in a meta tag; the first glob that matches wins. */
const UNITS = Object.entries(
  /** @type {Record<string, string>} */ (JSON.parse(document.querySelector('meta[name="units"]')?.getAttribute('content') || '{}')),
).map(([glob, unit]) => /** @type {const} */ ([compileGlob(glob), unit]));
/** @type {Map<string, string>} */
const unitCache = new Map();
/** @param {string} sensor */
export function unitOf(sensor) {
  let u = unitCache.get(sensor);
  if (u === undefined) {
    u = UNITS.find(([m]) => m(sensor))?.[1] ?? '';
    unitCache.set(sensor, u);
  }
  return u;
}

/**
 * Online: the sensor's last arrival is within its own allowance (three of its usual gaps, computed on the
 * gateway: SensorView.offlineAfterMs), its source announced no death since (Sparkplug NDEATH/DDEATH:
 * SensorView.offline), and no noData alert fires on it. The gateway's count (live-view.ts isOnline) agrees.
 * @param {SensorView} v @param {FiringAlert[]} firing @param {number} now
 */
export function isOnline(v, firing, now) {
  if (v.offline === true) return false;
  if (firing.some((a) => a.kind === 'noData')) return false;
  return v.arrived !== null && now - v.arrived <= v.offlineAfterMs;
}

/**
 * @param {SensorView} v
 * @param {FiringAlert[]} firing
 * @param {Clock} clock
 * @param {boolean} sameDevice  the row above is of the same device (its name is greyed out)
 * @param {number[]} [limits]  the `above`/`below` of the threshold rules that watch this sensor (lines on the sparkline)
 */
export function buildRow(v, firing, clock, sameDevice, limits = []) {
  const online = isOnline(v, firing, clock.now);
  const state = el('td', { class: `state ${online ? 'on' : 'off'}` }, el('span', { text: online ? 'online' : 'offline' }));
  state.title =
    v.offline === true
      ? 'its Sparkplug edge node or device announced its death'
      : v.arrived === null
        ? 'no reading since the gateway started'
        : `last arrival ${formatAge(clock.now - v.arrived)}; offline after ${Math.round(v.offlineAfterMs / 1000)} s of silence`;
  const age = el('td', { class: 'age' });
  renderAge(age, v, clock);
  let worst = '';
  let rank = 0;
  const badges = firing.map((a) => {
    if (SEVERITY_RANK[a.severity] > rank) {
      rank = SEVERITY_RANK[a.severity];
      worst = a.severity;
    }
    const limit = a.threshold === null ? 'no data' : `limit ${formatValue(a.threshold)}`;
    // A button, so that a tap (phone) or Enter shows the details as well as a hover does (tip.js).
    return el('button', {
      type: 'button',
      class: `badge ${a.severity}`,
      'data-tip': `${a.severity}: ${a.rule} (${limit}) since ${new Date(a.since).toLocaleString()}`,
      text: a.rule,
    });
  });
  const tr = /** @type {HTMLTableRowElement} */ (
    el(
      'tr',
      {
        'data-device': v.device,
        'data-sensor': v.sensor,
        class: `row${worst ? ` sev-${worst}` : ''}${sameDevice ? ' same-device' : ''}${online ? '' : ' offline'}`,
      },
      el('td', { class: 'device', 'data-sensor': v.sensor, text: v.device }),
      el('td', { class: 'sensor', text: v.sensor }),
      state,
      el(
        'td',
        { class: 'num value' },
        v.value === null ? '–' : formatValue(v.value),
        ...(v.value !== null && unitOf(v.sensor) ? [el('span', { class: 'unit', text: ` ${unitOf(v.sensor)}` })] : []),
      ),
      age,
      el('td', { class: 'num rate', text: String(v.perMinute) }),
      el('td', { class: 'spark-cell' }, ...spark(v.windows ?? [], limits), ...grafanaLink(v)),
      el('td', { class: 'alert' }, ...(badges.length > 0 ? badges : [el('span', { class: 'state-ok', text: 'ok' })])),
    )
  );
  return tr;
}

/** @param {SensorView} v */
function grafanaLink(v) {
  if (GRAFANA === '') return [];
  const href = GRAFANA.replaceAll('{device}', encodeURIComponent(v.device)).replaceAll('{sensor}', encodeURIComponent(v.sensor));
  return [el('a', { class: 'grafana', href, target: '_blank', rel: 'noopener noreferrer', title: `${v.device}/${v.sensor} in Grafana`, text: 'Grafana' })];
}

/** @param {HTMLElement} cell @param {SensorView} v @param {Clock} clock */
export function renderAge(cell, v, clock) {
  // Its Sparkplug edge node or device died (NDEATH/DDEATH): offline until it sends again.
  cell.classList.toggle('offline', v.offline === true);
  if (v.offline === true) {
    cell.textContent = 'offline';
    cell.title = v.ts === null ? '' : `last reading ${new Date(v.ts).toLocaleString()}`;
    return;
  }
  if (v.ts === null) {
    cell.textContent = '–';
    return;
  }
  const age = clock.now - v.ts;
  cell.textContent = formatAge(age) + (clock.frozen ? ' (as of then)' : '');
  cell.title = new Date(v.ts).toLocaleString();
  cell.classList.toggle('stale', v.arrived !== null && clock.now - v.arrived > v.offlineAfterMs);
}

/**
 * The last window means as a line; a rule's limit as a dashed line when it is near enough to the data (within
 * one data span) to be drawn without flattening it.
 * @param {[number, number][]} windows @param {number[]} limits @returns {SVGElement[]}
 */
function spark(windows, limits) {
  if (windows.length < 2) return [];
  const w = 120;
  const h = 26;
  const means = windows.map((x) => x[1]);
  let lo = Math.min(...means);
  let hi = Math.max(...means);
  const dataSpan = hi - lo || Math.abs(hi) * 0.1 || 1;
  const shown = limits.filter((l) => l >= lo - dataSpan && l <= hi + dataSpan);
  lo = Math.min(lo, ...shown);
  hi = Math.max(hi, ...shown);
  const span = hi - lo || 1;
  const step = w / (windows.length - 1);
  const points = means.map((m, i) => [i * step, h - 3 - ((m - lo) / span) * (h - 6)]);
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('width', String(w + 4));
  svg.setAttribute('height', String(h));
  svg.setAttribute('viewBox', `-2 0 ${w + 4} ${h}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `last ${windows.length} window means: ${formatValue(lo)} to ${formatValue(hi)}`);
  const line = document.createElementNS(ns, 'polyline');
  line.setAttribute('points', points.map(([x, y]) => `${x?.toFixed(1)},${y?.toFixed(1)}`).join(' '));
  const last = points[points.length - 1] ?? [0, 0];
  const dot = document.createElementNS(ns, 'circle');
  dot.setAttribute('cx', String(last[0]));
  dot.setAttribute('cy', String(last[1]));
  dot.setAttribute('r', '2');
  svg.append(line, dot);
  for (const l of shown) {
    const y = (h - 3 - ((l - lo) / span) * (h - 6)).toFixed(1);
    const limit = document.createElementNS(ns, 'line');
    limit.setAttribute('class', 'limit');
    limit.setAttribute('x1', '0');
    limit.setAttribute('x2', String(w));
    limit.setAttribute('y1', y);
    limit.setAttribute('y2', y);
    svg.append(limit);
  }
  if (shown.length > 0) svg.setAttribute('aria-label', `${svg.getAttribute('aria-label')}; limit ${shown.map(formatValue).join(', ')}`);
  return [svg];
}

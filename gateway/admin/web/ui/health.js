// @ts-check
import { onGateway, onHealth } from './connection.js';
import { el, formatAge } from './util.js';

/**
 * Health view: the gateway's own state, live (the stream's `health` event, every 2 s when it changed): what
 * /health reports (InfluxDB, outbox, MQTT, pipeline, alerts and rules file, devices) plus the messages rejected
 * since the start by reason. The tab shows "degraded" when the gateway says so, "down" when it does not answer.
 */
export function startHealth() {
  const view = /** @type {HTMLElement} */ (document.getElementById('health-cards'));
  const mark = /** @type {HTMLElement} */ (document.getElementById('health-mark'));
  /** @type {Record<string, any> | undefined} */
  let last;

  /** @param {string} title @param {'ok' | 'bad' | ''} state @param {[string, string | HTMLElement][]} rows */
  const card = (title, state, rows) =>
    el(
      'section',
      { class: `card ${state}`, 'aria-label': title },
      el('h3', { text: title }, ...(state ? [el('span', { class: `pill ${state}`, text: state === 'ok' ? 'ok' : 'problem' })] : [])),
      el('dl', {}, ...rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)])),
    );

  /** @param {Record<string, any>} h */
  function render(h) {
    const o = h['outbox'] ?? {};
    const i = h['influx'] ?? {};
    const b = h['broker'] ?? {};
    const a = h['alerts'] ?? {};
    const rules = a['rules'] ?? {};
    const rejected = /** @type {Record<string, number>} */ (h['rejected'] ?? {});
    const rejectedRows = /** @type {[string, string][]} */ (
      Object.entries(rejected)
        .sort((x, y) => y[1] - x[1])
        .map(([k, v]) => [k, String(v)])
    );
    const pipeline = /** @type {Record<string, unknown>} */ (h['pipeline'] ?? {});
    view.replaceChildren(
      card('Gateway', h['status'] === 'ok' ? 'ok' : 'bad', [
        ['status', String(h['status'])],
        ['id', String(h['gatewayId'] ?? '')],
        ['up for', formatAge((h['uptimeSeconds'] ?? 0) * 1000).replace(' ago', '')],
      ]),
      card('InfluxDB', i['up'] ? 'ok' : 'bad', [
        ['state', i['up'] ? 'up' : 'down'],
        ['why', i['lastError'] ? String(i['lastError']) : '–'],
        ['database', `${i['url'] ?? ''} / ${i['database'] ?? ''}`],
      ]),
      card('Outbox (store and forward)', (o['deadLetters'] ?? 0) > 0 || (o['oldestAgeSeconds'] ?? 0) > 60 ? 'bad' : 'ok', [
        ['backlog', `${o['points'] ?? 0} points in ${o['batches'] ?? 0} batches (${Math.round((o['bytes'] ?? 0) / 1024)} kB)`],
        ['oldest waiting', o['points'] > 0 ? formatAge((o['oldestAgeSeconds'] ?? 0) * 1000).replace(' ago', '') : '–'],
        ['draining', o['draining'] ? 'yes' : 'no'],
        ['dead letters', String(o['deadLetters'] ?? 0)],
      ]),
      card('MQTT', b['listening'] === false ? 'bad' : 'ok', [
        ['clients', String(b['clients'] ?? 0)],
        ['listening', b['listening'] ? 'yes' : 'no'],
      ]),
      card('Rejected messages (since start)', '', rejectedRows.length > 0 ? rejectedRows : [['none', '–']]),
      card('Rules file', (rules['errors'] ?? []).length > 0 ? 'bad' : 'ok', [
        ['rules running', String(rules['ruleCount'] ?? 0)],
        ['file', String(rules['source'] ?? '')],
        ['problems', (rules['errors'] ?? []).length > 0 ? (rules['errors'] ?? []).map((/** @type {{message: string}} */ e) => e.message).join('; ') : 'none'],
        ['alerts firing', String(a['firing'] ?? 0)],
      ]),
      card('Pipeline', '', /** @type {[string, string][]} */ (Object.entries(pipeline).map(([k, v]) => [k, String(v)]))),
    );
  }

  onHealth((h) => {
    last = h;
    render(h);
    mark.textContent = h['status'] === 'ok' ? '' : String(h['status']);
    mark.hidden = h['status'] === 'ok';
  });
  onGateway((g) => {
    if (!g.up && g.everUp) {
      mark.textContent = 'down';
      mark.hidden = false;
      view.classList.add('stale');
    } else {
      view.classList.remove('stale');
      if (last) mark.hidden = last['status'] === 'ok';
    }
  });
}

// @ts-check
import { onFiring } from './connection.js';
import { api, el, formatAge, formatValue } from './util.js';

/**
 * Alerts view: the alerts firing now (worst first, then oldest; or oldest first), a filter, and per rule its
 * recent changes (GET /api/alerts/history) and a silence (PUT/DELETE /api/alerts/silences/<rule>): a silenced
 * rule's alerts still show here, marked, but publish nothing (docs/alerts.md).
 *
 * @typedef {import('./sensor-row.js').FiringAlert} FiringAlert
 */
const RANK = { critical: 3, warning: 2, info: 1 };
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

export function startAlerts() {
  const rows = $('alert-rows');
  const rulesEl = $('alert-rules');
  const filter = /** @type {HTMLInputElement} */ ($('alert-filter'));
  const sort = /** @type {HTMLSelectElement} */ ($('alert-sort'));
  const summary = $('alert-summary');
  /** @type {FiringAlert[]} */
  let firing = [];
  /** @type {Map<string, number>} rule -> silenced until */
  let silences = new Map();
  /** @type {{ name: string, severity: string, kind: string }[]} */
  let rules = [];
  /** Rules whose recent changes are open. */
  const openHistories = new Set();
  let visible = false;

  function renderFiring() {
    const q = filter.value.trim().toLowerCase();
    const list = firing
      .filter((a) => q === '' || `${a.rule} ${a.device} ${a.sensor}`.toLowerCase().includes(q))
      .sort((a, b) => (sort.value === 'age' ? a.since - b.since : RANK[b.severity] - RANK[a.severity] || a.since - b.since));
    rows.replaceChildren(
      ...list.map((a) => {
        const until = silences.get(a.rule);
        return el(
          'tr',
          { class: `sev-${a.severity}${until ? ' silenced' : ''}`, 'data-rule': a.rule, 'data-device': a.device, 'data-sensor': a.sensor },
          el('td', {}, el('span', { class: `badge ${a.severity}`, text: a.severity })),
          el('td', { class: 'rule-name', text: a.rule }),
          el('td', { text: `${a.device} / ${a.sensor}` }),
          el('td', { class: 'num', text: a.threshold === null ? 'no data' : `${formatValue(a.value)} (limit ${formatValue(a.threshold)})` }),
          el('td', { title: new Date(a.since).toLocaleString(), text: formatAge(Date.now() - a.since) }),
          el('td', { class: 'silence-state', text: until ? `silenced until ${new Date(until).toLocaleTimeString()}` : '' }),
        );
      }),
    );
    summary.textContent = firing.length === 0 ? 'No alerts firing.' : `${list.length} of ${firing.length} firing alert${firing.length === 1 ? '' : 's'} shown.`;
  }

  function renderRules() {
    rulesEl.replaceChildren(
      ...rules.map((r) => {
        const until = silences.get(r.name);
        const count = firing.filter((a) => a.rule === r.name).length;
        const history = el('ol', { class: 'history', hidden: '' });
        const showHistory = el('button', { type: 'button', class: 'btn-text', text: 'Recent changes', 'aria-expanded': 'false' });
        const loadHistory = async () => {
          const [res, stored] = await Promise.all([
            api(`/api/alerts/history?rule=${encodeURIComponent(r.name)}&limit=20`),
            api(`/api/alerts/history/stored?rule=${encodeURIComponent(r.name)}&limit=20`).catch(() => undefined),
          ]);
          const { entries } = await res.json();
          const storedBody =
            stored === undefined ? { error: 'the gateway did not answer' } : await stored.json().catch(() => ({ error: `HTTP ${stored.status}` }));
          history.replaceChildren(
            el('li', { class: 'history-head', text: 'Since the gateway started' }),
            ...(entries.length === 0
              ? [el('li', { class: 'hint', text: 'No changes since the gateway started.' })]
              : entries.map((/** @type {{ event: any, silenced: boolean, at: number }} */ h) =>
                  el('li', {
                    text: `${new Date(h.at).toLocaleString()}: ${h.event.device} / ${h.event.sensor} ${h.event.state} (value ${formatValue(h.event.value)})${h.silenced ? ', silenced: not published' : ''}`,
                  }),
                )),
            el('li', { class: 'history-head', text: 'Stored in InfluxDB (alerts measurement, last 7 days)' }),
            ...(storedBody.error !== undefined
              ? [el('li', { class: 'hint', text: `Not available: ${storedBody.error}` })]
              : storedBody.entries.length === 0
                ? [el('li', { class: 'hint', text: 'None stored.' })]
                : storedBody.entries.map((/** @type {{ time: number, device: string, sensor: string, state: string, value: number | null }} */ h) =>
                    el('li', {
                      class: 'stored',
                      text: `${new Date(h.time).toLocaleString()}: ${h.device} / ${h.sensor} ${h.state}${h.value === null ? '' : ` (value ${formatValue(h.value)})`}`,
                    }),
                  )),
          );
        };
        const reload = () => {
          loadHistory().catch(() => history.replaceChildren(el('li', { class: 'hint', text: 'Not available: the gateway did not answer.' })));
        };
        const showOpen = (/** @type {boolean} */ open) => {
          history.hidden = !open;
          showHistory.setAttribute('aria-expanded', String(open));
        };
        showHistory.addEventListener('click', () => {
          const open = history.hidden;
          showOpen(open);
          if (open) openHistories.add(r.name);
          else openHistories.delete(r.name);
          if (open) reload();
        });
        // The list is drawn again whenever a firing alert or a silence changes: an open history stays open, and
        // is loaded again (it has likely gained the change that caused the redraw).
        if (openHistories.has(r.name)) {
          showOpen(true);
          reload();
        }
        const control = until
          ? el('button', { type: 'button', class: 'btn', 'data-action': 'unsilence', text: `Silenced until ${new Date(until).toLocaleTimeString()}: end now` })
          : el(
              'span',
              { class: 'silence-form' },
              el('label', { class: 'sr-only', for: `silence-${r.name}`, text: `Silence ${r.name} for` }),
              selectFor(r.name),
              el('button', { type: 'button', class: 'btn', 'data-action': 'silence', text: 'Silence' }),
            );
        control.addEventListener('click', async (e) => {
          const target = /** @type {HTMLElement} */ (e.target);
          const action = target.dataset['action'];
          if (action === 'unsilence') await api(`/api/alerts/silences/${encodeURIComponent(r.name)}`, { method: 'DELETE' });
          else if (action === 'silence') {
            const minutes = Number(/** @type {HTMLSelectElement} */ (control.querySelector('select')).value);
            await api(`/api/alerts/silences/${encodeURIComponent(r.name)}`, {
              method: 'PUT',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ minutes }),
            });
          } else return;
          await refresh();
        });
        return el(
          'li',
          { class: 'rule-line', 'data-rule': r.name },
          el('span', { class: `badge ${r.severity}`, text: r.severity }),
          el('strong', { text: r.name }),
          el('span', { class: 'hint', text: `${r.kind}, ${count} firing` }),
          control,
          showHistory,
          history,
        );
      }),
    );
  }

  /** @param {string} rule */
  function selectFor(rule) {
    const s = /** @type {HTMLSelectElement} */ (el('select', { id: `silence-${rule}` }));
    for (const [m, label] of [
      [15, '15 min'],
      [60, '1 hour'],
      [240, '4 hours'],
      [1440, '1 day'],
    ])
      s.append(el('option', { value: String(m), text: /** @type {string} */ (label) }));
    s.value = '60';
    return s;
  }

  async function refresh() {
    const [s, t] = await Promise.all([api('/api/alerts/silences'), api('/api/thresholds')]);
    silences = new Map((await s.json()).silences.map((/** @type {{ rule: string, until: number }} */ x) => [x.rule, x.until]));
    rules = (await t.json()).rules;
    renderFiring();
    renderRules();
  }

  onFiring((list) => {
    firing = list;
    if (visible) {
      renderFiring();
      renderRules();
    }
  });
  filter.addEventListener('input', renderFiring);
  sort.addEventListener('change', renderFiring);
  setInterval(() => {
    if (visible) void refresh().catch(() => undefined);
  }, 5000);

  return {
    /** @param {boolean} on */
    shown(on) {
      visible = on;
      if (on) void refresh().catch(() => undefined);
    },
  };
}

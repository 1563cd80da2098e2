// @ts-check
import { FIELD_OF_PATH, draftFromRule, headerOf, newDraft, rulesToYaml } from './rules-yaml.js';
import { showConflict } from './rules-dialogs.js';
import { wireRulesToolbar } from './rules-toolbar.js';
import { api, debounce, el } from './util.js';
import { yamlEditor } from './yaml-editor.js';

/**
 * Thresholds view: the rules file as a form and as raw YAML. Both save through PUT /api/thresholds with the
 * ETag the rules were loaded with (If-Match), so a save that another edit overtook is refused (412), never
 * silently merged. Errors come back with a path (rules[1].above) and a line: shown at the field, or at the line.
 *
 * @typedef {import('./rules-yaml.js').RuleDraft} RuleDraft
 * @typedef {import('./rules-yaml.js').DraftField} DraftField
 * @typedef {{ path: string, line?: number, column?: number, message: string }} RuleError
 * @typedef {{ root: HTMLElement, inputs: Map<DraftField, HTMLInputElement | HTMLSelectElement>, errors: Map<DraftField, HTMLElement>, ruleError: HTMLElement }} Card
 */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

export function startThresholds() {
  const list = $('rules-list');
  const banner = $('rules-banner');
  const statusLine = $('rules-status');
  const dirtyMark = $('rules-dirty');
  const yaml = yamlEditor({
    textarea: /** @type {HTMLTextAreaElement} */ ($('yaml-text')),
    gutter: $('yaml-gutter'),
    list: $('yaml-errors'),
    onInput: () => {
      yamlDirty = true;
      setDirty();
    },
  });
  const modeButtons = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll('.subtab')]);

  /** @type {RuleDraft[]} */
  let drafts = [];
  /** @type {Card[]} */
  let cards = [];
  let etag = '';
  let fileText = '';
  let mode = 'form';
  let formDirty = false;
  let yamlDirty = false;
  let loaded = false;

  function setDirty() {
    dirtyMark.hidden = !(formDirty || yamlDirty);
  }

  /** @param {'ok' | 'error'} kind @param {string} text @param {HTMLElement[]} [extra] */
  function showBanner(kind, text, extra = []) {
    banner.className = `banner ${kind}`;
    banner.replaceChildren(el('span', { text }), ...extra);
    banner.hidden = false;
  }

  async function load() {
    const [jsonRes, yamlRes] = await Promise.all([api('/api/thresholds'), api('/api/thresholds?format=yaml')]);
    const body = await jsonRes.json();
    fileText = yamlRes.ok ? await yamlRes.text() : '';
    etag = yamlRes.headers.get('etag') ?? body.etag ?? '';
    drafts = body.rules.map(draftFromRule);
    yaml.text = fileText;
    formDirty = yamlDirty = false;
    setDirty();
    renderForm();
    yaml.markErrors([]);
    const st = body.status;
    statusLine.textContent =
      `${st.ruleCount} rule${st.ruleCount === 1 ? '' : 's'} running from ${st.source}` +
      (st.loadedAt ? `, loaded ${new Date(st.loadedAt).toLocaleString()}` : '');
    if (st.errors.length > 0) {
      showBanner(
        'error',
        `The rules file on disk is invalid: the rules shown are the ones still running. Fix it in the YAML tab (${st.errors.length} problem${st.errors.length === 1 ? '' : 's'}).`,
      );
      yaml.markErrors(st.errors);
    }
    loaded = true;
  }

  // ---- form ----

  function renderForm() {
    cards = drafts.map((d, i) => renderCard(d, i));
    list.replaceChildren(...cards.map((c) => c.root));
    if (drafts.length === 0) list.replaceChildren(el('p', { class: 'hint', text: 'No rules. Add one below.' }));
  }

  /** @param {RuleDraft} d @param {number} i @returns {Card} */
  function renderCard(d, i) {
    /** @type {Card['inputs']} */
    const inputs = new Map();
    /** @type {Card['errors']} */
    const errors = new Map();
    const preview = el('div', { class: 'preview' });

    /** @param {DraftField} f @param {string} label @param {string} cls @param {HTMLInputElement | HTMLSelectElement} [control] */
    const field = (f, label, cls, control) => {
      const input = control ?? /** @type {HTMLInputElement} */ (el('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' }));
      input.name = f;
      input.value = d[f];
      input.addEventListener('input', () => {
        d[f] = input.value;
        formDirty = true;
        setDirty();
        if (f === 'device' || f === 'sensor') refreshPreview();
        if (f === 'kind') toggleKind();
      });
      const err = el('div', { class: 'field-error', id: `err-${i}-${f}` });
      input.setAttribute('aria-describedby', err.id);
      err.hidden = true;
      inputs.set(f, input);
      errors.set(f, err);
      return el('label', { class: `field ${cls}` }, label, input, err);
    };
    /** @param {string[]} options */
    const select = (options) => {
      const s = /** @type {HTMLSelectElement} */ (el('select'));
      for (const o of options) s.append(el('option', { value: o, text: o }));
      return s;
    };
    const kindSelect = select(['threshold', 'noData']);
    const del = el('button', { type: 'button', class: 'btn-link', title: 'Delete this rule', text: 'Delete' });
    del.addEventListener('click', () => {
      if (!confirm(`Delete the rule "${d.name || `#${i + 1}`}"? (Nothing is saved until you press Save.)`)) return;
      drafts.splice(i, 1);
      formDirty = true;
      setDirty();
      renderForm();
    });
    const thresholdRow = el(
      'div',
      { class: 'rule-row' },
      field('above', 'above', 'w-num'),
      field('below', 'below', 'w-num'),
      field('hysteresis', 'hysteresis', 'w-num'),
      field('for', 'for (e.g. 30s)', 'w-num'),
    );
    const noDataRow = el('div', { class: 'rule-row' }, field('noData', 'no data for (e.g. 5m)', 'w-num'));
    const ruleError = el('div', { class: 'rule-error' });
    ruleError.hidden = true;
    const root = el(
      'div',
      { class: 'rule', 'data-index': String(i) },
      el(
        'div',
        { class: 'rule-head' },
        field('name', 'name', 'w-name'),
        field('kind', 'kind', '', kindSelect),
        field('severity', 'severity', '', select(['info', 'warning', 'critical'])),
        del,
      ),
      el('div', { class: 'rule-row' }, field('device', 'device glob', 'w-glob'), field('sensor', 'sensor glob', 'w-glob')),
      thresholdRow,
      noDataRow,
      ruleError,
      preview,
    );
    function toggleKind() {
      thresholdRow.hidden = d.kind === 'noData';
      noDataRow.hidden = d.kind !== 'noData';
    }
    const refreshPreview = debounce(async () => {
      const q = new URLSearchParams({ device: d.device.trim() || '*', sensor: d.sensor.trim() || '*' });
      const res = await api(`/api/thresholds/preview?${q}`);
      if (!res.ok) {
        preview.textContent = 'Preview: the globs are not valid.';
        return;
      }
      const p = await res.json();
      const names = p.matches.slice(0, 8).map((/** @type {{device: string, sensor: string}} */ m) => `${m.device}/${m.sensor}`);
      preview.replaceChildren(
        p.total === 0
          ? 'Matches no sensor seen so far.'
          : el(
              'span',
              {},
              'Matches ',
              el('strong', { text: `${p.total} sensor${p.total === 1 ? '' : 's'}` }),
              ` now: ${names.join(', ')}${p.total > names.length ? `, +${p.total - names.length} more` : ''}`,
            ),
      );
    }, 250);
    toggleKind();
    refreshPreview();
    return { root, inputs, errors, ruleError };
  }

  function clearFormErrors() {
    for (const c of cards) {
      c.root.classList.remove('has-error');
      c.ruleError.hidden = true;
      for (const [f, e] of c.errors) {
        e.hidden = true;
        c.inputs.get(f)?.classList.remove('invalid');
        c.inputs.get(f)?.removeAttribute('aria-invalid');
      }
    }
  }

  /** Puts each error next to its field; returns the ones that belong to no field. @param {RuleError[]} errors */
  function showFormErrors(errors) {
    clearFormErrors();
    /** @type {RuleError[]} */
    const rest = [];
    for (const e of errors) {
      const m = /^rules\[(\d+)\](?:\.(.+))?$/.exec(e.path);
      const card = m ? cards[Number(m[1])] : undefined;
      if (!m || !card) {
        rest.push(e);
        continue;
      }
      card.root.classList.add('has-error');
      const f = m[2] === undefined ? undefined : FIELD_OF_PATH[m[2]];
      const errEl = f === undefined ? undefined : card.errors.get(f);
      if (f !== undefined && errEl !== undefined) {
        errEl.textContent = e.message;
        errEl.hidden = false;
        card.inputs.get(f)?.classList.add('invalid');
        // Announced with the field: aria-invalid, and the message as its description.
        card.inputs.get(f)?.setAttribute('aria-invalid', 'true');
      } else {
        card.ruleError.textContent = m[2] ? `${m[2]}: ${e.message}` : e.message;
        card.ruleError.hidden = false;
      }
    }
    return rest;
  }

  // ---- modes, save ----

  /** @param {string} next */
  function setMode(next) {
    if (next === mode) return;
    if (next === 'form' && yamlDirty) {
      showBanner('error', 'The YAML has unsaved changes: save them (or reload) before going back to the form.');
      return;
    }
    if (next === 'yaml' && formDirty) {
      // Show what the form would save; it stays unsaved.
      yaml.text = rulesToYaml(drafts, headerOf(fileText));
      yamlDirty = true;
      formDirty = false;
      yaml.markErrors([]);
    }
    mode = next;
    for (const b of modeButtons) {
      b.setAttribute('aria-selected', String(b.dataset['mode'] === mode));
      b.tabIndex = b.dataset['mode'] === mode ? 0 : -1;
    }
    $('mode-form').hidden = mode !== 'form';
    $('mode-yaml').hidden = mode !== 'yaml';
    if (mode === 'yaml') yaml.refresh();
  }

  /** @param {string} [over] an ETag to save over (the conflict dialog's "keep mine") */
  async function save(over) {
    banner.hidden = true;
    const body = mode === 'form' ? rulesToYaml(drafts, headerOf(fileText)) : yaml.text;
    /** @type {Response} */
    let res;
    try {
      res = await api('/api/thresholds', { method: 'PUT', headers: { 'content-type': 'application/yaml', 'if-match': over ?? (etag || '*') }, body });
    } catch {
      // fetch() rejects only when no answer came: the gateway is down or unreachable.
      showBanner(
        'error',
        'Not saved: the gateway did not answer (stopped, or the network is down). Your edits are kept in this page; save again once it is back.',
      );
      return;
    }
    if (res.ok) {
      const r = await res.json();
      await load();
      showBanner('ok', `Saved. ${r.ruleCount} rule${r.ruleCount === 1 ? '' : 's'} running now.`);
      return;
    }
    const errors = /** @type {RuleError[]} */ ((await res.json().catch(() => ({ errors: [] }))).errors ?? []);
    if (res.status === 412) {
      const again = el('button', { type: 'button', class: 'btn', text: 'Compare and choose' });
      const conflict = () =>
        void showConflict({
          mine: body,
          onKeepMine: (theirs) => void save(theirs),
          onTakeTheirs: () => void load().then(() => (banner.hidden = true)),
        });
      again.addEventListener('click', conflict);
      showBanner(
        'error',
        'Not saved: someone else changed the rules file after you loaded it (another page, or an edit on the gateway). Your edits are still here.',
        [again],
      );
      conflict();
      return;
    }
    const rest = mode === 'form' ? showFormErrors(errors) : errors;
    if (mode === 'yaml') yaml.markErrors(errors);
    const n = errors.length;
    const detail = mode === 'form' && rest.length > 0 ? ` ${rest.map((e) => `${e.path}: ${e.message}`).join('; ')}` : '';
    showBanner(
      'error',
      `Not saved: ${n} problem${n === 1 ? '' : 's'} ${mode === 'form' ? 'marked below' : 'listed below the editor'}. The rules file was not changed.${detail}`,
    );
  }

  for (const b of modeButtons) {
    b.addEventListener('click', () => setMode(b.dataset['mode'] ?? 'form'));
    // Arrow keys move between the two modes (ARIA tabs).
    b.addEventListener('keydown', (e) => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      e.preventDefault();
      const other = modeButtons.find((x) => x !== b);
      setMode(other?.dataset['mode'] ?? 'form');
      modeButtons.find((x) => x.dataset['mode'] === mode)?.focus();
    });
  }
  $('rule-add').addEventListener('click', () => {
    drafts.push(newDraft(drafts.length + 1));
    formDirty = true;
    setDirty();
    renderForm();
    cards[cards.length - 1]?.inputs.get('name')?.focus();
  });
  const saveButton = /** @type {HTMLButtonElement} */ ($('rules-save'));
  saveButton.addEventListener('click', () => void save().catch((err) => showBanner('error', `Save failed: ${err.message}`)));
  $('rules-reload').addEventListener('click', () => {
    if ((formDirty || yamlDirty) && !confirm('Reload the rules from the gateway? Your unsaved edits are dropped.')) return;
    banner.hidden = true;
    void load();
  });
  wireRulesToolbar({
    body: () => (mode === 'form' ? rulesToYaml(drafts, headerOf(fileText)) : yaml.text),
    fileText: () => fileText,
    etag: () => etag,
    dirty: () => formDirty || yamlDirty,
    load,
    showBanner,
    saveButton,
  });

  return {
    /** Called when the view becomes visible: loads the rules the first time. */
    shown() {
      if (!loaded) void load().catch((err) => showBanner('error', `Could not load the rules: ${err.message}`));
    },
  };
}

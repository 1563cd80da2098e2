// @ts-check
import { lineDiff } from './diff.js';
import { api, el } from './util.js';

/**
 * Dialogs of the thresholds view (native <dialog>: focus kept inside, Escape closes):
 *  - the conflict dialog when a save was refused because the file changed meanwhile (412): what changed between
 *    their version and mine, line by line, and the choice: keep mine (save over theirs), take theirs (drop my
 *    edits), or go back to editing;
 *  - the history of the rules file (GET /api/thresholds/versions): each earlier version, its diff against the
 *    current file, and a button to go back to it.
 */

/** @param {string} title */
function dialog(title) {
  const d = /** @type {HTMLDialogElement} */ (el('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' }));
  const body = el('div', { class: 'dialog-body' });
  const buttons = el('div', { class: 'dialog-buttons' });
  d.append(el('h2', { id: 'dialog-title', text: title }), body, buttons);
  d.addEventListener('close', () => d.remove());
  document.body.append(d);
  return { d, body, buttons };
}

/** @param {string} from @param {string} to */
export function renderDiff(from, to) {
  const rows = lineDiff(from, to);
  const changed = rows.filter(([k]) => k !== ' ').length;
  // Only changed lines and two lines of context around them.
  const keep = rows.map(([k], i) => rows.slice(Math.max(0, i - 2), i + 3).some(([kk]) => kk !== ' ') || k !== ' ');
  const pre = el('pre', { class: 'diff', 'aria-label': `${changed} changed line${changed === 1 ? '' : 's'}` });
  let skipped = false;
  rows.forEach(([k, line], i) => {
    if (!keep[i]) {
      if (!skipped) pre.append(el('span', { class: 'skip', text: '…\n' }));
      skipped = true;
      return;
    }
    skipped = false;
    pre.append(el('span', { class: k === '-' ? 'del' : k === '+' ? 'ins' : 'ctx', text: `${k} ${line}\n` }));
  });
  return changed === 0 ? el('p', { class: 'hint', text: 'No difference.' }) : pre;
}

/**
 * @param {{ mine: string, onKeepMine: (theirEtag: string) => void, onTakeTheirs: () => void }} opts
 */
export async function showConflict({ mine, onKeepMine, onTakeTheirs }) {
  const res = await api('/api/thresholds?format=yaml');
  const theirs = res.ok ? await res.text() : '';
  const theirEtag = res.headers.get('etag') ?? '*';
  const { d, body, buttons } = dialog('Someone else changed the rules file');
  body.append(
    el('p', {
      text: 'Your save was refused: the rules file changed after you loaded it (another page, or an edit on the gateway). Lines marked − are in their version only, + in yours only.',
    }),
    renderDiff(theirs, mine),
  );
  const keep = el('button', { type: 'button', class: 'btn btn-primary', 'data-choice': 'mine', text: 'Keep mine (save over theirs)' });
  const take = el('button', { type: 'button', class: 'btn', 'data-choice': 'theirs', text: 'Take theirs (drop my edits)' });
  const cancel = el('button', { type: 'button', class: 'btn', 'data-choice': 'cancel', text: 'Back to editing' });
  keep.addEventListener('click', () => (d.close(), onKeepMine(theirEtag)));
  take.addEventListener('click', () => (d.close(), onTakeTheirs()));
  cancel.addEventListener('click', () => d.close());
  buttons.append(keep, take, cancel);
  d.showModal();
}

/**
 * @param {{ current: string, etag: () => string, dirty: () => boolean, onRestored: (ruleCount: number) => void, onError: (msg: string) => void }} opts
 */
export async function showHistory({ current, etag, dirty, onRestored, onError }) {
  const res = await api('/api/thresholds/versions');
  const { versions } = /** @type {{ versions: { id: string, savedAt: number, etag: string, bytes: number }[] }} */ (await res.json());
  const { d, body, buttons } = dialog('Earlier versions of the rules file');
  const close = el('button', { type: 'button', class: 'btn', text: 'Close' });
  close.addEventListener('click', () => d.close());
  buttons.append(close);
  const detail = el('div', { class: 'version-detail' });
  const list = el('ul', { class: 'versions' });
  body.append(
    el('p', {
      class: 'hint',
      text: `The gateway keeps the last ${versions.length > 1 ? versions.length : ''} versions it saw (saves here, and edits on disk) in its data folder.`,
    }),
    list,
    detail,
  );
  versions.forEach((v, i) => {
    const view = el('button', { type: 'button', class: 'btn-text', text: `${new Date(v.savedAt).toLocaleString()}${i === 0 ? ' (current)' : ''}` });
    const li = el('li', { 'data-version': v.id }, view);
    view.addEventListener('click', async () => {
      const text = await (await api(`/api/thresholds/versions/${v.id}`)).text();
      const restore = el('button', { type: 'button', class: 'btn btn-primary', text: 'Go back to this version' });
      restore.hidden = i === 0;
      restore.addEventListener('click', async () => {
        if (dirty() && !confirm('Going back replaces the rules file: your unsaved edits in this page are dropped. Go on?')) return;
        const r = await api(`/api/thresholds/versions/${v.id}/restore`, { method: 'POST', headers: { 'if-match': etag() || '*' } });
        const out = await r.json().catch(() => ({}));
        d.close();
        if (r.ok) onRestored(out.ruleCount);
        else
          onError(
            r.status === 412
              ? 'Not restored: the rules file changed meanwhile; reload and try again.'
              : `Not restored: ${(out.errors ?? []).map((/** @type {{message: string}} */ e) => e.message).join('; ')}`,
          );
      });
      detail.replaceChildren(el('p', { class: 'hint', text: 'Changes from the current file to this version:' }), renderDiff(current, text), restore);
    });
    list.append(li);
  });
  if (versions.length === 0) list.append(el('li', { class: 'hint', text: 'No versions recorded yet.' }));
  d.showModal();
}

/**
 * The answer of PUT /api/thresholds?dryRun=1 in words: "would have fired N times since HH:MM", per rule with
 * the sensors.
 * @param {{ from: number | null, fires: number, rules: { name: string, fires: number, sensors: { device: string, sensor: string, fires: number }[] }[] }} r
 */
export function dryRunText(r) {
  const since =
    r.from === null ? 'in the recent windows the gateway holds' : `since ${new Date(r.from).toLocaleTimeString()} (the recent window means the gateway holds)`;
  if (r.fires === 0) return `Dry run: these rules would not have fired ${since}.`;
  const parts = r.rules
    .filter((x) => x.fires > 0)
    .map(
      (x) =>
        `${x.name}: ${x.fires} time${x.fires === 1 ? '' : 's'} on ${x.sensors.map((s) => `${s.device}/${s.sensor}`).join(', ')}${x.sensors.length < x.fires ? ', …' : ''}`,
    );
  return `Dry run: these rules would have fired ${r.fires} time${r.fires === 1 ? '' : 's'} ${since}. ${parts.join('; ')}.`;
}

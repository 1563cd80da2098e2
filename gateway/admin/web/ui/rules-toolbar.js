// @ts-check
import { onGateway } from './connection.js';
import { dryRunText, showHistory } from './rules-dialogs.js';
import { api } from './util.js';

/**
 * The thresholds view's toolbar beyond Save and Reload: Dry run (PUT /api/thresholds?dryRun=1), History (the
 * kept versions), Save disabled with its reason while the gateway does not answer, and the browser's prompt
 * before leaving the page with unsaved edits.
 * @param {{ body: () => string, fileText: () => string, etag: () => string, dirty: () => boolean, load: () => Promise<void>, showBanner: (kind: 'ok' | 'error', text: string) => void, saveButton: HTMLButtonElement }} o
 */
export function wireRulesToolbar(o) {
  const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
  $('rules-dry-run').addEventListener('click', async () => {
    const body = o.body();
    const res = await api('/api/thresholds?dryRun=1', { method: 'PUT', headers: { 'content-type': 'application/yaml' }, body }).catch(() => undefined);
    if (res === undefined) return o.showBanner('error', 'Dry run: the gateway did not answer.');
    const out = await res.json().catch(() => ({}));
    if (res.ok) o.showBanner('ok', dryRunText(out));
    else
      o.showBanner(
        'error',
        `Dry run: the rules are not valid (${(out.errors ?? []).length} problem${(out.errors ?? []).length === 1 ? '' : 's'}); Save shows where.`,
      );
  });
  $('rules-history').addEventListener(
    'click',
    () =>
      void showHistory({
        current: o.fileText(),
        etag: o.etag,
        dirty: o.dirty,
        onRestored: (n) => void o.load().then(() => o.showBanner('ok', `Went back to the earlier version. ${n} rule${n === 1 ? '' : 's'} running now.`)),
        onError: (msg) => o.showBanner('error', msg),
      }).catch((err) => o.showBanner('error', `Could not list the versions: ${err.message}`)),
  );
  // While the gateway does not answer, a save cannot work: say so on the button instead of failing.
  const saveReason = $('rules-save-reason');
  onGateway((g) => {
    const down = !g.up && g.everUp;
    o.saveButton.disabled = down;
    saveReason.hidden = !down;
    saveReason.textContent = down ? 'Saving is off: the gateway does not answer. Your edits are kept.' : '';
  });
  // Typed changes are not lost to a reload, a closed tab or a link: the browser asks first (HTML: beforeunload).
  window.addEventListener('beforeunload', (e) => {
    if (!o.dirty()) return;
    e.preventDefault();
    e.returnValue = '';
  });
}

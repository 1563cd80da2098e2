// @ts-check
/**
 * Tooltips that work by touch as well as by mouse and keyboard: any element with `data-tip` shows its text in
 * a small box on hover, on focus and on a tap (a tap elsewhere, or Escape, closes it). The native `title`
 * attribute shows nothing on a phone.
 */
export function startTips() {
  const tip = document.createElement('div');
  tip.className = 'tip';
  tip.setAttribute('role', 'tooltip');
  tip.id = 'tip';
  tip.hidden = true;
  document.body.append(tip);
  /** @type {HTMLElement | null} */
  let owner = null;

  /** @param {HTMLElement} target */
  function show(target) {
    owner = target;
    tip.textContent = target.dataset['tip'] ?? '';
    tip.hidden = false;
    target.setAttribute('aria-describedby', 'tip');
    const r = target.getBoundingClientRect();
    const left = Math.min(window.scrollX + r.left, window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 8);
    tip.style.left = `${Math.max(4, left)}px`;
    tip.style.top = `${window.scrollY + r.bottom + 6}px`;
  }
  function hide() {
    owner?.removeAttribute('aria-describedby');
    owner = null;
    tip.hidden = true;
  }
  const tipOf = (/** @type {EventTarget | null} */ t) => (t instanceof Element ? /** @type {HTMLElement | null} */ (t.closest('[data-tip]')) : null);

  document.addEventListener('click', (e) => {
    const t = tipOf(e.target);
    // A tap fires mouseover then click: a click shows (never toggles), a click elsewhere closes.
    if (t === null) hide();
    else show(t);
  });
  document.addEventListener('mouseover', (e) => {
    const t = tipOf(e.target);
    if (t !== null && t !== owner) show(t);
    else if (t === null && owner !== null) hide();
  });
  document.addEventListener('focusin', (e) => {
    const t = tipOf(e.target);
    if (t !== null) show(t);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') hide();
  });
  // A live row is re-rendered when its values change: the tip moves to the new copy of its element, or closes.
  setInterval(() => {
    if (owner === null || owner.isConnected) return;
    const text = owner.dataset['tip'] ?? '';
    const again = [.../** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll('[data-tip]'))].find((e) => e.dataset['tip'] === text);
    if (again) show(again);
    else hide();
  }, 250);
}

// @ts-check
/**
 * ARIA tabs (WAI-ARIA Authoring Practices, "Tabs" pattern, automatic activation): the selected tab is the only
 * one in the tab order (roving tabindex); Left/Right arrows move to the previous/next tab and show it, Home/End
 * to the first/last. Each tab's `data-view` names its panel `#view-<name>`.
 * @param {HTMLElement} list  the role=tablist element
 * @param {(view: string) => void} onShow
 * @param {string} initial
 */
export function ariaTabs(list, onShow, initial) {
  const tabs = /** @type {HTMLButtonElement[]} */ ([...list.querySelectorAll('[role="tab"]')]);
  /** @param {string} view @param {boolean} focus */
  function show(view, focus) {
    if (!tabs.some((t) => t.dataset['view'] === view)) view = tabs[0]?.dataset['view'] ?? '';
    for (const tab of tabs) {
      const on = tab.dataset['view'] === view;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      const panel = document.getElementById(`view-${tab.dataset['view']}`);
      if (panel) panel.hidden = !on;
      if (on && focus) tab.focus();
    }
    onShow(view);
  }
  for (const tab of tabs) {
    tab.setAttribute('aria-controls', `view-${tab.dataset['view']}`);
    tab.addEventListener('click', () => show(tab.dataset['view'] ?? '', false));
    tab.addEventListener('keydown', (e) => {
      const i = tabs.indexOf(tab);
      const next =
        e.key === 'ArrowRight'
          ? (i + 1) % tabs.length
          : e.key === 'ArrowLeft'
            ? (i - 1 + tabs.length) % tabs.length
            : e.key === 'Home'
              ? 0
              : e.key === 'End'
                ? tabs.length - 1
                : -1;
      if (next < 0) return;
      e.preventDefault();
      show(tabs[next]?.dataset['view'] ?? '', true);
    });
  }
  show(initial, false);
}

// @ts-check
import { startSensors } from './sensors.js';
import { startThresholds } from './thresholds.js';
import { startTips } from './tip.js';

/** The page: two views behind tabs. The sensors view streams all the time; the rules load on first visit. */
const tabs = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll('.tab')]);
const thresholds = startThresholds();
startSensors();
startTips();

/** @param {string} view */
function show(view) {
  for (const tab of tabs) {
    const on = tab.dataset['view'] === view;
    tab.setAttribute('aria-selected', String(on));
    const panel = document.getElementById(`view-${tab.dataset['view']}`);
    if (panel) panel.hidden = !on;
  }
  if (view === 'thresholds') thresholds.shown();
  if (location.hash !== `#${view}`) history.replaceState(null, '', `#${view}`);
}

for (const tab of tabs) tab.addEventListener('click', () => show(tab.dataset['view'] ?? 'sensors'));
show(location.hash === '#thresholds' ? 'thresholds' : 'sensors');

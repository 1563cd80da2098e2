// @ts-check
import { startAlerts } from './alerts.js';
import { startHealth } from './health.js';
import { startSensors } from './sensors.js';
import { startThresholds } from './thresholds.js';
import { startTips } from './tip.js';
import { ariaTabs } from './tabs.js';

/** The page: views behind ARIA tabs. The sensors view streams all the time; the other views load on first visit. */
const thresholds = startThresholds();
startSensors();
startTips();
startHealth();
const alertsView = startAlerts();

ariaTabs(
  /** @type {HTMLElement} */ (document.querySelector('.tabs')),
  (view) => {
    if (view === 'thresholds') thresholds.shown();
    alertsView.shown(view === 'alerts');
    if (location.hash !== `#${view}`) history.replaceState(null, '', `${location.pathname}${location.search}#${view}`);
  },
  location.hash.slice(1) || 'sensors',
);

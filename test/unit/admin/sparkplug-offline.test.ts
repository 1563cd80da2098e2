import { describe, expect, it } from 'vitest';
import { BUCKET_MS, LiveView, type SensorView } from '../../../gateway/admin/live/live-view.js';
import { DEFAULT_QUERY, LiveWindows } from '../../../gateway/admin/live/live-window.js';

// The page's row module reads two meta tags when it loads; outside a browser there are none.
(globalThis as { document?: unknown }).document ??= { querySelector: () => null };
// A computed specifier, because the page's JS has no declaration file (it is type-checked by its own tsconfig).
const UI_ROW = '../../../gateway/admin/web/ui/sensor-row.js';
const { isOnline: pageIsOnline } = (await import(UI_ROW)) as { isOnline: (v: SensorView, firing: readonly unknown[], now: number) => boolean };

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % BUCKET_MS);

/** Two edge devices reporting every second for 10 s; `dead` then announces its death (Sparkplug NDEATH/DDEATH). */
function fleet() {
  const live = new LiveView(T0);
  for (let t = 0; t <= 10; t++) {
    live.tick(T0 + t * 1000);
    for (const device of ['alive', 'dead']) for (const sensor of ['a', 'b']) live.onReading({ device, sensor, ts: T0 + t * 1000, value: t });
  }
  live.markOffline('dead');
  return { live, windows: new LiveWindows(live) };
}

describe('Sparkplug deaths in the online/offline state', () => {
  const now = T0 + 10_500; // well inside either device's cadence allowance: only a death makes it offline

  it('a dead device is offline at once on the gateway (summary and state order), not after its silence allowance', () => {
    const { windows } = fleet();
    expect(windows.devices(now)).toEqual({ devices: 2, offline: 1, sensors: 4 });
    // Offline first when sorting by state ascending.
    const rows = windows.query({ ...DEFAULT_QUERY, sort: 'state' }, [], now).window.rows;
    expect(rows.slice(0, 2).map((r) => r.device)).toEqual(['dead', 'dead']);
    expect(rows.map((r) => r.offline === true)).toEqual([true, true, false, false]);
  });

  it('the page calls the same rows offline, and the alive ones online', () => {
    const { live } = fleet();
    const views = live.snapshot();
    for (const v of views) expect(pageIsOnline(v, [], now), `${v.device}/${v.sensor}`).toBe(v.device === 'alive');
  });

  it('a reading after the death brings that sensor, and so its device, back online', () => {
    const { live, windows } = fleet();
    live.tick(T0 + 11_000);
    live.onReading({ device: 'dead', sensor: 'a', ts: T0 + 11_000, value: 1 });
    const views = new Map(live.snapshot().map((v) => [`${v.device}/${v.sensor}`, v]));
    expect(views.get('dead/a')!.offline).toBeUndefined();
    expect(pageIsOnline(views.get('dead/a')!, [], T0 + 11_000)).toBe(true);
    expect(pageIsOnline(views.get('dead/b')!, [], T0 + 11_000)).toBe(false);
    // A device is offline only when every sensor of it is.
    expect(windows.devices(T0 + 11_000)).toEqual({ devices: 2, offline: 0, sensors: 4 });
  });
});

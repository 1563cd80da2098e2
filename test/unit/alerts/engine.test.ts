import { describe, expect, it } from 'vitest';
import { AlertEngine, NO_EVENTS } from '../../../gateway/alerts/engine.js';
import type { AlertEvent } from '../../../gateway/alerts/types.js';
import { feed, HOT, reading, rulesFrom } from './helpers.js';
import { manualClock } from '../../support/manual-timers.js';

describe('threshold alerts', () => {
  it('fires on the first violating reading when for = 0, with since = ts and the configured threshold', () => {
    const e = new AlertEngine(rulesFrom(HOT));
    expect(e.onReading(reading('gh-1', 'temperature', 1000, 30))).toBe(NO_EVENTS);
    const ev = e.onReading(reading('gh-1', 'temperature', 2000, 36));
    expect(ev).toEqual([
      { device: 'gh-1', sensor: 'temperature', rule: 'hot', state: 'firing', severity: 'critical', value: 36, threshold: 35, ts: 2000, since: 2000 },
    ]);
    expect(e.firing()).toEqual([
      { rule: 'hot', kind: 'threshold', device: 'gh-1', sensor: 'temperature', severity: 'critical', since: 2000, firedAt: 2000, value: 36, threshold: 35 },
    ]);
  });

  it('value equal to `above` does not fire (strictly greater)', () => {
    const e = new AlertEngine(rulesFrom(HOT));
    expect(feed(e, 'gh-1', 'temperature', [[1, 35]])).toEqual([]);
  });

  it('resolves only at value <= above - hysteresis', () => {
    const e = new AlertEngine(rulesFrom(HOT));
    feed(e, 'gh-1', 'temperature', [[1000, 36]]);
    // 34.5 is below 35 but above 35 - 1: still firing.
    expect(
      feed(e, 'gh-1', 'temperature', [
        [2000, 34.5],
        [3000, 35.5],
      ]),
    ).toEqual([]);
    expect(e.firing()).toHaveLength(1);
    const ev = feed(e, 'gh-1', 'temperature', [[4000, 34]]);
    expect(ev).toEqual([
      { device: 'gh-1', sensor: 'temperature', rule: 'hot', state: 'resolved', severity: 'critical', value: 34, threshold: 35, ts: 4000, since: 4000 },
    ]);
    expect(e.firing()).toEqual([]);
    // And it can fire again.
    expect(feed(e, 'gh-1', 'temperature', [[5000, 40]]).map((x) => x.state)).toEqual(['firing']);
  });

  it('`for` must hold on reading timestamps; a non-violating reading during pending cancels silently', () => {
    const e = new AlertEngine(rulesFrom(`rules: [{ name: hot, above: 35, for: 30s }]`));
    expect(
      feed(e, 'd', 's', [
        [0, 36],
        [10_000, 37],
        [20_000, 34],
      ]),
    ).toEqual([]); // cancelled at 20s
    expect(
      feed(e, 'd', 's', [
        [25_000, 36],
        [50_000, 36],
      ]),
    ).toEqual([]); // pending since 25s, 25s elapsed
    const ev = feed(e, 'd', 's', [[55_000, 38]]);
    expect(ev).toEqual([{ device: 'd', sensor: 's', rule: 'hot', state: 'firing', severity: 'warning', value: 38, threshold: 35, ts: 55_000, since: 25_000 }]);
    expect(e.firing()[0]).toMatchObject({ since: 25_000, firedAt: 55_000 });
  });

  it('`for` is judged on reading time, not on the gateway clock or tick()', () => {
    const clock = manualClock();
    const e = new AlertEngine(rulesFrom(`rules: [{ name: hot, above: 35, for: 30s }]`), { now: clock.now });
    feed(e, 'd', 's', [[0, 36]]);
    clock.advance(3_600_000);
    expect(e.tick()).toBe(NO_EVENTS);
    expect(e.firing()).toEqual([]);
  });

  it('below fires when value < below and resolves at >= below + hysteresis', () => {
    const e = new AlertEngine(rulesFrom(`rules: [{ name: cold, below: 2, hysteresis: 0.5 }]`));
    expect(
      feed(e, 'd', 't', [
        [1, 2],
        [2, 1.9],
      ]),
    ).toMatchObject([{ state: 'firing', threshold: 2, value: 1.9 }]);
    expect(feed(e, 'd', 't', [[3, 2.4]])).toEqual([]);
    expect(feed(e, 'd', 't', [[4, 2.5]])).toMatchObject([{ state: 'resolved', threshold: 2, value: 2.5 }]);
  });

  it('above + below: fires outside the band, stays firing when swinging across it, reports the side last violated', () => {
    const e = new AlertEngine(rulesFrom(`rules: [{ name: band, above: 80, below: 20, hysteresis: 2 }]`));
    expect(feed(e, 'd', 'm', [[1, 50]])).toEqual([]);
    expect(feed(e, 'd', 'm', [[2, 10]])).toMatchObject([{ state: 'firing', threshold: 20 }]);
    expect(
      feed(e, 'd', 'm', [
        [3, 90],
        [4, 21],
      ]),
    ).toEqual([]); // 21 < 20 + 2: not yet clear
    expect(feed(e, 'd', 'm', [[5, 79]])).toEqual([]); // 79 > 80 - 2: not yet clear
    expect(feed(e, 'd', 'm', [[6, 78]])).toMatchObject([{ state: 'resolved', threshold: 80, value: 78 }]);
  });

  it('several rules on one sensor are independent alerts', () => {
    const e = new AlertEngine(
      rulesFrom(`
rules:
  - { name: warm, match: { sensor: temp }, above: 30, severity: info }
  - { name: hot, match: { sensor: temp }, above: 35, severity: critical }
`),
    );
    expect(feed(e, 'd', 'temp', [[1, 32]])).toMatchObject([{ rule: 'warm', severity: 'info', state: 'firing' }]);
    expect(feed(e, 'd', 'temp', [[2, 40]])).toMatchObject([{ rule: 'hot', severity: 'critical', state: 'firing' }]);
    expect(feed(e, 'd', 'temp', [[3, 20]])).toMatchObject([
      { rule: 'warm', state: 'resolved' },
      { rule: 'hot', state: 'resolved' },
    ]);
  });

  it('keeps separate state per (device, sensor) and matches globs (* and ?)', () => {
    const e = new AlertEngine(rulesFrom(`rules: [{ name: r, match: { device: "gh-?", sensor: "temp*" }, above: 0 }]`));
    const fired = feed(e, 'gh-1', 'temp_air', [[1, 1]])
      .concat(feed(e, 'gh-2', 'temperature', [[1, 1]]))
      .concat(feed(e, 'gh-10', 'temp', [[1, 1]])) // ? is exactly one character
      .concat(feed(e, 'gh-1', 'humidity', [[1, 1]]))
      .concat(feed(e, 'xgh-1', 'temp', [[1, 1]])); // anchored
    expect(fired.map((x) => `${x.device}/${x.sensor}`)).toEqual(['gh-1/temp_air', 'gh-2/temperature']);
    expect(feed(e, 'gh-1', 'temp_air', [[2, -1]])).toMatchObject([{ device: 'gh-1', state: 'resolved' }]);
    expect(e.firing().map((f) => f.device)).toEqual(['gh-2']);
  });

  it('treats regex metacharacters in globs literally', () => {
    const e = new AlertEngine(rulesFrom(`rules: [{ name: r, match: { device: "a.b+(c)" }, above: 0 }]`));
    expect(feed(e, 'a.b+(c)', 's', [[1, 1]])).toHaveLength(1);
    expect(feed(e, 'aXb+(c)', 's', [[1, 1]])).toEqual([]);
  });

  it('ignores late readings (older than the newest seen) for alert state; equal ts is not late', () => {
    const e = new AlertEngine(rulesFrom(HOT));
    feed(e, 'gh-1', 'temperature', [[10_000, 36]]);
    expect(feed(e, 'gh-1', 'temperature', [[5_000, 20]])).toEqual([]); // late: would resolve
    expect(e.firing()).toHaveLength(1);
    expect(feed(e, 'gh-1', 'temperature', [[10_000, 20]])).toMatchObject([{ state: 'resolved' }]);
    expect(feed(e, 'gh-1', 'temperature', [[9_000, 50]])).toEqual([]); // late: would fire
    expect(e.firing()).toEqual([]);
  });

  it('returns the shared empty array when nothing changed, and appends to a caller-provided array', () => {
    const e = new AlertEngine(rulesFrom(HOT));
    expect(e.onReading(reading('other', 'x', 1, 99))).toBe(NO_EVENTS);
    expect(e.onReading(reading('other', 'x', 2, 99))).toBe(NO_EVENTS);
    expect(e.onReading(reading('gh-1', 'temperature', 1, 1))).toBe(NO_EVENTS);
    const out: AlertEvent[] = [];
    expect(e.onReading(reading('gh-1', 'temperature', 2, 1), out)).toBe(out);
    expect(out).toEqual([]);
    e.onReading(reading('gh-1', 'temperature', 3, 99), out);
    expect(out).toHaveLength(1);
    expect(Object.isFrozen(NO_EVENTS)).toBe(true);
    expect(new AlertEngine([]).onReading(reading('a', 'b', 1, 1))).toBe(NO_EVENTS);
  });

  it('bounds the cache of sensors matching no rule and still evaluates them correctly afterwards', () => {
    const e = new AlertEngine(rulesFrom(HOT), { maxUnmatchedKeys: 10 });
    for (let i = 0; i < 100; i++) e.onReading(reading(`junk-${i}`, 's', 1, 1));
    for (let i = 0; i < 100; i++) e.onReading(reading('gh-1', `junk-${i}`, 1, 1)); // watched device, junk sensors
    expect(e.snapshot().sensors).toEqual([]);
    expect(feed(e, 'gh-1', 'temperature', [[1, 50]])).toHaveLength(1);
  });
});

describe('noData alerts', () => {
  const SILENT = `rules: [{ name: silent, match: { device: "gh-*" }, noData: 5m, severity: critical }]`;

  it('fires on tick after a seen sensor is silent for noData (gateway clock) and resolves on the next reading', () => {
    const clock = manualClock(0);
    const e = new AlertEngine(rulesFrom(SILENT), { now: clock.now });
    expect(e.tick(299_999)).toBe(NO_EVENTS); // nothing seen yet: nothing to miss
    clock.set(1_000);
    feed(e, 'gh-1', 'temp', [[123, 21.5]]);
    expect(e.tick(300_999)).toEqual([]);
    const fired = e.tick(301_000);
    expect(fired).toEqual([
      { device: 'gh-1', sensor: 'temp', rule: 'silent', state: 'firing', severity: 'critical', value: 21.5, threshold: null, ts: 301_000, since: 1_000 },
    ]);
    expect(e.tick(900_000)).toEqual([]); // fires once
    expect(e.firing()).toMatchObject([{ rule: 'silent', kind: 'noData', threshold: null, value: 21.5 }]);
    clock.set(950_000);
    expect(feed(e, 'gh-1', 'temp', [[124, 22]])).toEqual([
      { device: 'gh-1', sensor: 'temp', rule: 'silent', state: 'resolved', severity: 'critical', value: 22, threshold: null, ts: 124, since: 124 },
    ]);
    expect(e.tick(950_000 + 299_999)).toEqual([]); // silence is measured from the resolving reading
    expect(e.tick(950_000 + 300_000)).toHaveLength(1);
  });

  it('staleNow fires the noData rules of every sensor of that device at once, once', () => {
    const clock = manualClock(0);
    const e = new AlertEngine(rulesFrom(SILENT), { now: clock.now });
    clock.set(1_000);
    feed(e, 'gh-1', 'temp', [[10, 5]]);
    feed(e, 'gh-1', 'rh', [[10, 50]]);
    feed(e, 'gh-2', 'temp', [[10, 6]]);
    clock.set(2_000);
    expect(e.staleNow('gh-1', 2_000)).toEqual([
      { device: 'gh-1', sensor: 'temp', rule: 'silent', state: 'firing', severity: 'critical', value: 5, threshold: null, ts: 2_000, since: 1_000 },
      { device: 'gh-1', sensor: 'rh', rule: 'silent', state: 'firing', severity: 'critical', value: 50, threshold: null, ts: 2_000, since: 1_000 },
    ]);
    expect(e.staleNow('gh-1', 3_000)).toEqual([]);
    expect(e.tick(900_000).map((x) => x.device)).toEqual(['gh-2']); // the tick does not fire them again
    expect(e.staleNow('unknown', 3_000)).toBe(NO_EVENTS);
  });

  it('a regular sensor never fires; a late reading is no sign of life', () => {
    const clock = manualClock(0);
    const e = new AlertEngine(rulesFrom(SILENT), { now: clock.now });
    for (let t = 0; t <= 600_000; t += 60_000) {
      clock.set(t);
      feed(e, 'gh-1', 'temp', [[t, 1]]);
      expect(e.tick(t + 1)).toBe(NO_EVENTS);
    }
    clock.set(700_000);
    feed(e, 'gh-1', 'temp', [[1, 1]]); // late
    expect(e.tick(600_000 + 300_000)).toHaveLength(1);
  });

  it('runs beside threshold rules on the same sensor', () => {
    const clock = manualClock(0);
    const e = new AlertEngine(
      rulesFrom(`
rules:
  - { name: silent, match: { device: "gh-*" }, noData: 5m }
  - { name: hot, match: { device: "gh-*", sensor: temperature }, above: 35 }
`),
      { now: clock.now },
    );
    expect(feed(e, 'gh-1', 'temperature', [[0, 40]])).toMatchObject([{ rule: 'hot', state: 'firing' }]);
    expect(e.tick(300_000)).toMatchObject([{ rule: 'silent', state: 'firing', value: 40 }]);
    expect(
      e
        .firing()
        .map((f) => f.rule)
        .sort(),
    ).toEqual(['hot', 'silent']);
  });
});

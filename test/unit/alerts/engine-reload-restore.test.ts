import { describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../gateway/alerts/engine.js';
import { feed, HOT, rulesFrom } from './helpers.js';
import { manualClock } from '../../support/manual-timers.js';

/**
 * What alert state survives a rules reload (setRules: engine.ts) and a restart (snapshot and restore:
 * alert-state.ts). Evaluating readings and ticks: engine.test.ts.
 */

describe('setRules', () => {
  it('keeps state of rules with unchanged name and match (new parameters apply), resolves removed and re-matched ones', () => {
    const clock = manualClock(0);
    const e = new AlertEngine(
      rulesFrom(`
rules:
  - { name: keep, match: { sensor: t }, above: 10 }
  - { name: gone, match: { sensor: t }, above: 10 }
  - { name: moved, match: { sensor: t }, above: 10 }
  - { name: quiet, match: { sensor: t }, above: 100 }
`),
      { now: clock.now },
    );
    expect(feed(e, 'd', 't', [[1, 50]]).map((x) => x.rule)).toEqual(['keep', 'gone', 'moved']);
    clock.set(777);
    const resolved = e.setRules(
      rulesFrom(`
rules:
  - { name: keep, match: { sensor: t }, above: 40, hysteresis: 5, severity: critical }
  - { name: moved, match: { sensor: "t*" }, above: 10 }
  - { name: quiet, match: { sensor: t }, above: 100 }
`),
    );
    expect(resolved).toEqual([
      { device: 'd', sensor: 't', rule: 'gone', state: 'resolved', severity: 'warning', value: 50, threshold: 10, ts: 777, since: 777 },
      { device: 'd', sensor: 't', rule: 'moved', state: 'resolved', severity: 'warning', value: 50, threshold: 10, ts: 777, since: 777 },
    ]);
    // `keep` is still firing, not re-fired; its new parameters (above 40, hysteresis 5, critical) apply.
    expect(e.firing().map((f) => [f.rule, f.severity])).toEqual([['keep', 'critical']]);
    expect(feed(e, 'd', 't', [[2, 36]])).toMatchObject([{ rule: 'moved', state: 'firing' }]);
    // keep: 35 <= 40 - 5 resolves; moved (firing since ts 2) stays firing.
    expect(feed(e, 'd', 't', [[3, 35]])).toMatchObject([{ rule: 'keep', state: 'resolved', severity: 'critical', threshold: 40 }]);
  });

  it('keeps a pending alert pending across a reload with the same name and match', () => {
    const e = new AlertEngine(rulesFrom(`rules: [{ name: r, above: 10, for: 10s }]`));
    feed(e, 'd', 's', [[0, 20]]);
    expect(e.setRules(rulesFrom(`rules: [{ name: r, above: 10, for: 5s }]`))).toEqual([]);
    expect(feed(e, 'd', 's', [[5_000, 20]])).toMatchObject([{ state: 'firing', since: 0 }]);
  });

  it('applies new rules to sensors that matched nothing before, and an emptied rule set resolves everything', () => {
    const e = new AlertEngine(rulesFrom(HOT));
    feed(e, 'x', 'y', [[1, 100]]); // device matches no rule
    feed(e, 'gh-1', 'humidity', [[1, 100]]); // device matches, sensor does not
    e.setRules(rulesFrom(`rules: [{ name: all, above: 0 }]`));
    expect(feed(e, 'x', 'y', [[2, 100]])).toMatchObject([{ rule: 'all', state: 'firing' }]);
    expect(feed(e, 'gh-1', 'humidity', [[2, 100]])).toMatchObject([{ rule: 'all', state: 'firing' }]);
    expect(e.setRules([], 5)).toMatchObject([
      { device: 'x', rule: 'all', state: 'resolved', ts: 5 },
      { device: 'gh-1', rule: 'all', state: 'resolved', ts: 5 },
    ]);
    expect(e.firing()).toEqual([]);
    expect(feed(e, 'x', 'y', [[3, 100]])).toEqual([]);
  });

  it('a noData rule added for a known sensor measures silence from the reload', () => {
    const clock = manualClock(0);
    const e = new AlertEngine(rulesFrom(HOT), { now: clock.now });
    feed(e, 'gh-1', 'temperature', [[0, 20]]);
    e.setRules(rulesFrom(`${HOT}\n  - { name: silent, noData: 1m }`), 100_000);
    expect(e.tick(159_999)).toEqual([]);
    expect(e.tick(160_000)).toMatchObject([{ rule: 'silent', state: 'firing', since: 100_000 }]);
  });
});

describe('snapshot / restore', () => {
  it('round-trips through its bytes: a firing alert does not fire again, and resolves normally', () => {
    const rules = rulesFrom(`
rules:
  - { name: hot, above: 35, hysteresis: 1 }
  - { name: slow, above: 35, for: 1m }
  - { name: silent, noData: 1m }
`);
    const clock = manualClock(0);
    const a = new AlertEngine(rules, { now: clock.now });
    feed(a, 'd', 't', [[1_000, 40]]);
    a.tick(61_000);
    expect(
      a
        .firing()
        .map((f) => f.rule)
        .sort(),
    ).toEqual(['hot', 'silent']);
    const bytes = a.encodeSnapshot();

    const b = new AlertEngine(rules, { now: clock.now });
    expect(b.restore(bytes, 500_000)).toEqual({ ok: true, sensors: 1, alerts: 3 });
    expect(b.firing()).toEqual(a.firing());
    expect(feed(b, 'd', 't', [[500, 99]])).toEqual([]); // late relative to the saved newest ts
    // Still firing: no new firing event; the pending `slow` kept its start (1s) and fires at 61s.
    expect(feed(b, 'd', 't', [[61_000, 41]])).toMatchObject([
      { rule: 'slow', state: 'firing', since: 1_000 },
      { rule: 'silent', state: 'resolved' },
    ]);
    expect(feed(b, 'd', 't', [[62_000, 30]]).map((x) => `${x.rule}:${x.state}`)).toEqual(['hot:resolved', 'slow:resolved']);
  });

  it('drops saved alerts whose rule changed match, and measures noData from the restore', () => {
    const clock = manualClock(0);
    const a = new AlertEngine(rulesFrom(`rules: [{ name: hot, above: 1 }, { name: silent, noData: 1m }]`), { now: clock.now });
    feed(a, 'd', 't', [[0, 5]]);
    const snap = a.encodeSnapshot();
    const b = new AlertEngine(rulesFrom(`rules: [{ name: hot, match: { device: "e*" }, above: 1 }, { name: silent, noData: 1m }]`));
    expect(b.restore(snap, 1_000_000)).toEqual({ ok: true, sensors: 1, alerts: 0 });
    expect(b.firing()).toEqual([]);
    expect(b.tick(1_059_999)).toEqual([]);
    expect(b.tick(1_060_000)).toHaveLength(1);
  });

  it('rejects a malformed snapshot without touching state', () => {
    const e = new AlertEngine(rulesFrom(HOT));
    feed(e, 'gh-1', 'temperature', [[1, 40]]);
    const r = e.restore(Buffer.from(JSON.stringify({ version: 2, sensors: [] })));
    expect(r.ok).toBe(false);
    expect(e.firing()).toHaveLength(1);
  });
});

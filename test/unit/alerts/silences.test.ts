import { describe, expect, it } from 'vitest';
import { AlertHistory } from '../../../gateway/alerts/alert-history.js';
import { AlertSilencer } from '../../../gateway/alerts/silences.js';
import type { AlertEvent, FiringAlert } from '../../../gateway/alerts/types.js';

const ev = (rule: string, device: string, state: 'firing' | 'resolved', ts: number): AlertEvent => ({
  rule,
  device,
  sensor: 's',
  state,
  severity: 'warning',
  value: 1,
  threshold: 0,
  ts,
  since: ts,
});
const firingOf = (e: AlertEvent): FiringAlert => ({
  rule: e.rule,
  kind: 'threshold',
  device: e.device,
  sensor: e.sensor,
  severity: e.severity,
  since: e.since,
  firedAt: e.ts,
  value: e.value,
  threshold: e.threshold,
});

function setup() {
  const out: AlertEvent[] = [];
  const firing: FiringAlert[] = [];
  const silencer = new AlertSilencer(
    (events) => out.push(...events),
    () => firing,
  );
  return { out, firing, silencer };
}

describe('AlertSilencer', () => {
  it('publishes nothing of a silenced rule while silenced, and the other rules as before', () => {
    const { out, silencer } = setup();
    silencer.silence('hot', 1000);
    const held = silencer.publish([ev('hot', 'a', 'firing', 10), ev('cold', 'a', 'firing', 10)], 10);
    expect(out.map((e) => e.rule)).toEqual(['cold']);
    expect(held.map((e) => e.rule)).toEqual(['hot']);
    expect(silencer.isSilenced('hot', 999)).toBe(true);
    expect(silencer.list(10)).toEqual([{ rule: 'hot', until: 1000 }]);
  });

  it('at the end of a silence publishes what changed meanwhile: new firings, and resolves of what was published firing', () => {
    const { out, firing, silencer } = setup();
    const before = ev('hot', 'a', 'firing', 5);
    silencer.publish([before], 5); // published firing before the silence
    firing.push(firingOf(before));
    silencer.silence('hot', 1000);
    const during = ev('hot', 'b', 'firing', 20);
    silencer.publish([ev('hot', 'a', 'resolved', 10), during], 20);
    firing.length = 0;
    firing.push(firingOf(during));
    expect(out).toHaveLength(1);
    silencer.sweep(999);
    expect(out).toHaveLength(1); // not yet
    silencer.sweep(1000);
    expect(
      out
        .slice(1)
        .map((e) => `${e.device}:${e.state}`)
        .sort(),
    ).toEqual(['a:resolved', 'b:firing']);
    expect(silencer.list(1000)).toEqual([]);
    // After the silence, publishing is as usual.
    silencer.publish([ev('hot', 'b', 'resolved', 1100)], 1100);
    expect(out.at(-1)).toMatchObject({ device: 'b', state: 'resolved' });
  });

  it('can be lifted early; lifting a rule that is not silenced says so', () => {
    const { out, firing, silencer } = setup();
    silencer.silence('hot', 10_000);
    const e = ev('hot', 'a', 'firing', 1);
    silencer.publish([e], 1);
    firing.push(firingOf(e));
    expect(silencer.lift('hot', 2)).toBe(true);
    expect(out.map((x) => x.state)).toEqual(['firing']);
    expect(silencer.lift('hot', 3)).toBe(false);
  });
});

describe('AlertHistory', () => {
  it('keeps the last changes, newest first, per rule, marking the silenced ones', () => {
    const h = new AlertHistory(3);
    const a = ev('hot', 'a', 'firing', 1);
    const b = ev('cold', 'a', 'firing', 2);
    h.record([a, b], [b], 2);
    h.record([ev('hot', 'a', 'resolved', 3), ev('hot', 'b', 'firing', 4)], [], 4);
    expect(h.recent(undefined, 10).map((x) => `${x.event.rule}:${x.event.device}:${x.event.state}`)).toEqual([
      'hot:b:firing',
      'hot:a:resolved',
      'cold:a:firing',
    ]);
    expect(h.recent('cold', 10)[0]).toMatchObject({ silenced: true });
    expect(h.recent('hot', 1)).toHaveLength(1);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../gateway/alerts/engine.js';
import { decodeAlertSnapshot } from '../../../gateway/alerts/snapshot-binary-read.js';
import type { AlertEvent, AlertRule } from '../../../gateway/alerts/types.js';
import { ByteWriter } from '../../../gateway/persist/byte-codec.js';
import { reading } from './helpers.js';
import { manualClock } from '../../support/manual-timers.js';

/**
 * The alert snapshot (snapshot-binary.ts): random engine states round-trip bit-exactly, re-encoding a
 * restored state gives the same bytes, and every damaged or truncated buffer is an error result that leaves
 * the engine as it was.
 */

/** Every condition kind, null limits on either side, a `for`, and names a JSON-only codec would mangle. */
const RULES: readonly AlertRule[] = [
  { kind: 'threshold', name: 'hot', match: { device: '*', sensor: '*' }, severity: 'critical', above: 10, below: null, hysteresis: 1, forMs: 0 },
  { kind: 'threshold', name: 'cold-for', match: { device: '*', sensor: 't*' }, severity: 'warning', above: null, below: -5, hysteresis: 0, forMs: 2_000 },
  { kind: 'threshold', name: 'band', match: { device: 'd*', sensor: '*' }, severity: 'info', above: 50, below: -50, hysteresis: 2, forMs: 1_000 },
  { kind: 'noData', name: 'silent', match: { device: '*', sensor: '*' }, severity: 'warning', noDataMs: 5_000 },
  { kind: 'threshold', name: 'ünï-ℝ', match: { device: 'dé*', sensor: '*' }, severity: 'info', above: 0.5, below: null, hysteresis: 0, forMs: 500 },
];

const alertKey = (a: { rule: string; device: string; sensor: string }) => `${a.rule}\u0000${a.device}\u0000${a.sensor}`;

/** The service's bookkeeping of firing events (service.ts flushEvents), so the snapshot carries a realistic list. */
function track(firing: Map<string, AlertEvent>, events: readonly AlertEvent[]): void {
  for (const e of events) {
    if (e.state === 'firing') firing.set(alertKey(e), e);
    else firing.delete(alertKey(e));
  }
}

const DEVICES = ['d1', 'dé-ß', 'gh-😀', 'x\uD800y', ''];
const SENSORS = ['t', 'temp-℃', 'h', '\u0000'];
const VALUES = [-0, 0, 1, -1, 11, -6, 60, -60, 0.1 + 0.2, 1e300, -1e-300, 2 ** 53, 49.5, 5e-324];

type Op = { tick: false; device: number; sensor: number; dt: number; value: number } | { tick: true; dt: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    tick: fc.constant(false as const),
    device: fc.nat(DEVICES.length - 1),
    sensor: fc.nat(SENSORS.length - 1),
    dt: fc.integer({ min: -300, max: 3_000 }),
    value: fc.oneof(fc.constantFrom(...VALUES), fc.double({ noNaN: true, noDefaultInfinity: true })),
  }),
  fc.record({ tick: fc.constant(true as const), dt: fc.integer({ min: 0, max: 8_000 }) }),
);

/** Drives an engine (device time and gateway time both from `clock`, readings sometimes late) and tracks firing events. */
function build(ops: readonly Op[], start: number) {
  const clock = manualClock(start);
  const engine = new AlertEngine(RULES, { now: clock.now });
  const firing = new Map<string, AlertEvent>();
  for (const o of ops) {
    clock.advance(Math.max(0, o.dt));
    if (o.tick) track(firing, engine.tick(clock.now()));
    else track(firing, engine.onReading(reading(DEVICES[o.device]!, SENSORS[o.sensor]!, clock.now() + Math.min(0, o.dt), o.value)));
  }
  return { clock, engine, firing };
}

const start = fc.oneof(fc.constantFrom(0, 1_700_000_000_000, -5), fc.integer({ min: -1e12, max: 4e12 }));

describe('alert snapshot', () => {
  it('round-trips random states bit-exactly, and a restored state re-encodes to the same bytes', () => {
    const phases = new Set<string>();
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), start, (ops, t0) => {
        const { clock, engine, firing } = build(ops, t0);
        const bytes = engine.encodeSnapshot(firing);
        const decoded = decodeAlertSnapshot(bytes);
        if (!decoded.ok) throw new Error(decoded.error);
        // toEqual compares numbers with Object.is: -0, 5e-324 and 0.1 + 0.2 come back as themselves.
        expect(decoded.snapshot).toEqual(engine.snapshot());
        expect(decoded.firing).toEqual([...firing.values()]);
        for (const s of decoded.snapshot.sensors) for (const a of s.alerts) phases.add(`${a.kind}:${a.phase}`);

        const again = new AlertEngine(RULES, { now: clock.now });
        expect(again.restore(bytes)).toMatchObject({ ok: true, sensors: decoded.snapshot.sensors.length });
        expect(again.firing()).toEqual(engine.firing());
        expect(Buffer.compare(again.encodeSnapshot(firing), bytes)).toBe(0);
      }),
      { numRuns: 300 },
    );
    // The generator reaches every saved state kind (ok alerts are not saved; resolved ones are ok again).
    expect([...phases].sort()).toEqual(['noData:firing', 'threshold:firing', 'threshold:pending']);
  });

  it('falls back to plain times when a difference does not add back exactly, and still round-trips', () => {
    const clock = manualClock(2 ** 60); // differences of huge doubles lose bits
    const engine = new AlertEngine(RULES, { now: clock.now });
    const firing = new Map<string, AlertEvent>();
    track(firing, engine.onReading(reading('d1', 't', 0.1, 99)));
    track(firing, engine.onReading(reading('d1', 'h', -0, 99)));
    track(firing, engine.onReading(reading('d2', 't', 2 ** 60 + 2 ** 9, 99)));
    const bytes = engine.encodeSnapshot(firing);
    expect(bytes[5]).toBe(0); // PLAIN
    const decoded = decodeAlertSnapshot(bytes);
    expect(decoded.ok && decoded.snapshot).toEqual(engine.snapshot());
    expect(decoded.ok && decoded.firing).toEqual([...firing.values()]);
    expect(Object.is(decoded.ok && decoded.snapshot.sensors[1]!.newestTs, -0)).toBe(true);
  });

  it('writes the tidy case compactly: times as small differences, rules once', () => {
    const clock = manualClock(1_700_000_000_000);
    const engine = new AlertEngine(RULES, { now: clock.now });
    for (let d = 0; d < 1_000; d++) for (const s of ['t', 'h', 'p']) engine.onReading(reading(`d${d}`, s, clock.now(), 5.5));
    const bytes = engine.encodeSnapshot();
    expect(bytes[5]).toBe(1); // DELTA
    // Per sensor: name 2, newestTs 1, lastValue 9 (a float64), alert count 1; a few bytes per device besides.
    expect(bytes.length).toBeLessThan(3_000 * 13 + 1_000 * 6 + 64);
  });
});

describe('a damaged alert snapshot', () => {
  function firingState() {
    const { clock, engine, firing } = build(
      [
        { tick: false, device: 0, sensor: 0, dt: 10, value: 20 },
        { tick: false, device: 1, sensor: 1, dt: 10, value: -7 },
        { tick: false, device: 2, sensor: 0, dt: 10, value: -60 },
        { tick: true, dt: 6_000 },
      ],
      1_700_000_000_000,
    );
    expect(engine.firing().length).toBeGreaterThanOrEqual(4);
    return { clock, engine, firing, bytes: engine.encodeSnapshot(firing) };
  }

  it('is refused at every truncation and every single-byte change, leaving the state untouched', () => {
    const { engine, bytes } = firingState();
    const before = engine.snapshot();
    for (let n = 0; n < bytes.length; n++) {
      const r = engine.restore(bytes.subarray(0, n));
      expect(r.ok, `truncated to ${n} bytes`).toBe(false);
    }
    for (let i = 0; i < bytes.length; i++) {
      const bad = Buffer.from(bytes);
      bad[i]! ^= 1 << (i % 8);
      expect(engine.restore(bad).ok, `bit flipped in byte ${i}`).toBe(false);
    }
    expect(engine.snapshot()).toEqual(before);
  });

  /** A body with a valid CRC, so the structural checks are what refuse it. */
  const craft = (write: (w: ByteWriter) => void): Buffer => {
    const w = new ByteWriter(64);
    write(w);
    return w.finish();
  };
  const head = (w: ByteWriter, version = 1, mode = 1) => {
    for (const b of [0x47, 0x57, 0x41, 0x53]) w.u8(b);
    w.u8(version);
    w.u8(mode);
    w.num(1_000);
  };
  const sensor = (w: ByteWriter, name: string, alerts: Array<[index: number, state: number]>) => {
    w.str(name);
    w.num(0);
    w.num(1.5);
    w.uvar(alerts.length);
    for (const [index, state] of alerts) {
      w.uvar(index);
      w.u8(state);
      w.num(0);
      w.num(0);
    }
  };
  const rule = (w: ByteWriter, name: string, kind = 0) => {
    w.str(name);
    w.u8(kind);
    w.str('*');
    w.str('*');
  };
  const valid = (w: ByteWriter) => {
    head(w);
    w.uvar(1);
    w.str('d');
    sensor(w, 's', [[0, 2]]);
    w.uvar(0);
    w.uvar(1);
    rule(w, 'hot');
    w.uvar(0);
  };

  it.each<[string, (w: ByteWriter) => void, RegExp]>([
    ['another magic', (w) => [0x47, 0x57, 0x50, 0x53, 3].forEach((b) => w.u8(b)), /not a binary alert snapshot/],
    ['an unknown version', (w) => head(w, 3), /unknown version 3/],
    ['an unknown mode', (w) => head(w, 1, 2), /bad mode/],
    ['a duplicate device', (w) => (head(w), [0, 1].forEach(() => (w.uvar(1), w.str('d'), sensor(w, 's', [])))), /duplicate device/],
    ['a duplicate sensor', (w) => (head(w), w.uvar(2), w.str('d'), sensor(w, 's', []), sensor(w, 's', [])), /duplicate sensor/],
    ['an ok alert (never saved)', (w) => (head(w), w.uvar(1), w.str('d'), sensor(w, 's', [[0, 0]])), /bad alert state/],
    ['an unknown alert state', (w) => (head(w), w.uvar(1), w.str('d'), sensor(w, 's', [[0, 8 | 2]])), /bad alert state/],
    [
      'the same alert twice',
      (w) => (
        head(w),
        w.uvar(1),
        w.str('d'),
        sensor(w, 's', [
          [0, 1],
          [0, 2],
        ])
      ),
      /duplicate alert/,
    ],
    [
      'a dangling rule index',
      (w) => (head(w), w.uvar(1), w.str('d'), sensor(w, 's', [[1, 2]]), w.uvar(0), w.uvar(1), rule(w, 'hot'), w.uvar(0)),
      /rule index 1 out of range/,
    ],
    ['an unknown rule kind', (w) => (head(w), w.uvar(0), w.uvar(1), rule(w, 'hot', 2), w.uvar(0)), /bad kind/],
    ['a duplicate rule', (w) => (head(w), w.uvar(0), w.uvar(2), rule(w, 'hot'), rule(w, 'hot'), w.uvar(0)), /duplicate rule/],
    [
      'an unknown severity',
      (w) => (head(w), w.uvar(0), w.uvar(0), w.uvar(1), ['d', 's', 'r'].forEach((x) => w.str(x)), w.u8(3), w.num(1), w.u8(0), w.num(0), w.num(0)),
      /bad severity/,
    ],
    [
      'a bad threshold flag',
      (w) => (head(w), w.uvar(0), w.uvar(0), w.uvar(1), ['d', 's', 'r'].forEach((x) => w.str(x)), w.u8(0), w.num(1), w.u8(2), w.num(0), w.num(0)),
      /bad threshold flag/,
    ],
    ['a count beyond the buffer', (w) => (head(w), w.uvar(1_000_000)), /exceeds the remaining/],
    ['a non-finite number', (w) => (head(w), w.uvar(1), w.str('d'), w.str('s'), w.num(Infinity)), /non-finite/],
    ['trailing bytes', (w) => (valid(w), w.u8(0)), /trailing bytes/],
  ])('is refused when it holds %s', (_, write, why) => {
    const { engine } = firingState();
    const before = engine.snapshot();
    const r = engine.restore(craft(write));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(why);
    expect(!r.ok && r.error).toMatch(/^alert snapshot rejected: /);
    expect(engine.snapshot()).toEqual(before);
  });

  it('the crafted valid body is accepted (so the cases above fail for their own reason)', () => {
    const r = decodeAlertSnapshot(craft(valid));
    expect(r.ok && r.snapshot.sensors).toEqual([
      {
        device: 'd',
        sensor: 's',
        newestTs: 1_000,
        lastValue: 1.5,
        alerts: [{ rule: 'hot', kind: 'threshold', match: { device: '*', sensor: '*' }, phase: 'firing', since: 1_000, firedAt: 1_000, side: 'above' }],
      },
    ]);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pipeline, type PipelineSnapshot } from '../../../gateway/pipeline/pipeline.js';
import { restoreSnapshot, takeSnapshot } from '../../../gateway/pipeline/snapshot.js';
import type { DeviceMessage, PipelineSettings, Reading, WindowPoint } from '../../../gateway/pipeline/types.js';
import { finalWindows, referenceWindows, shuffle } from '../../support/reference.js';
import { copyOf } from './snapshot-support.js';

/**
 * Property tests of the pipeline against a reference computed from scratch (reference.ts):
 *  1. any arrival order, with repeats injected, gives the same final windows (horizons large enough);
 *  2. with small horizons every reading is accepted, duplicate or late, and the final windows are exactly
 *     the aggregates of the accepted readings;
 *  3. snapshot (version 3, and the version 2 JSON of older gateways) + restore at any point gives the same
 *     output as an uninterrupted run;
 *  4. a snapshot captured in steps while messages and ticks go on is the state at the moment it began.
 */

const T = 1_699_999_200_000;
const INTERVAL = 1000;
const SPAN = 8_000; // event times span 8 windows: dense enough for many readings per window

type Op = { msg: DeviceMessage; gap: number } | { tick: number };

const value = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -50, max: 50 }).map((x) => x / 4) },
  { weight: 3, arbitrary: fc.double({ noNaN: true, min: -(2 ** 1010), max: 2 ** 1010 }) },
  { weight: 2, arbitrary: fc.constantFrom(0.1, 0.2, 0.3, -0, 0, 1e-310, 1e300, -1e300, 2 ** 1000, 2 ** 53, 1) },
);
const device = fc.constantFrom('d0', 'd1');
const sensors = fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 });
const readingsOf = (names: string[]) => fc.tuple(...names.map(() => value)).map((vs) => names.map((sensor, i) => ({ sensor, value: vs[i]! })));
const readings = sensors.chain(readingsOf);
// Coarse event times, so that ts ties (gateway-stamped readings) and window boundaries are common.
const offset = fc.integer({ min: 0, max: SPAN / 250 - 1 }).map((i) => i * 250 + (i % 3 === 0 ? 0 : 1));

/** Distinct messages: device-stamped with unique (device, ts), seq-keyed with unique (device, seq), and unkeyed. */
const distinctMessages = fc
  .tuple(
    fc.uniqueArray(fc.record({ device, off: offset, readings }), { selector: (m) => `${m.device}/${m.off}`, maxLength: 40 }),
    fc.uniqueArray(fc.record({ device, seq: fc.nat(1000), off: offset, readings }), { selector: (m) => `${m.device}/${m.seq}`, maxLength: 10 }),
    fc.array(fc.record({ device, off: offset, readings }), { maxLength: 8 }),
  )
  .map(([byTs, bySeq, unkeyed]) => ({
    keyed: [
      ...byTs.map((m): DeviceMessage => ({ device: m.device, ts: T + m.off, tsFromDevice: true, seq: undefined, readings: m.readings })),
      ...bySeq.map((m): DeviceMessage => ({ device: m.device, ts: T + m.off, tsFromDevice: false, seq: m.seq, readings: m.readings })),
    ],
    unkeyed: unkeyed.map((m): DeviceMessage => ({ device: m.device, ts: T + m.off, tsFromDevice: false, seq: undefined, readings: m.readings })),
  }));

/** Arrival schedule: gaps of gateway time before each message, and ticks in between. */
const schedule = fc.record({
  gaps: fc.array(fc.integer({ min: 0, max: 1500 }), { minLength: 1 }),
  ticks: fc.array(fc.nat(), { maxLength: 20 }),
  seed: fc.nat(),
});

function interleave(msgs: readonly DeviceMessage[], s: { gaps: number[]; ticks: number[] }): Op[] {
  const tickAt = new Set(s.ticks.map((t) => t % (msgs.length + 1)));
  const ops: Op[] = [];
  msgs.forEach((msg, i) => {
    if (tickAt.has(i)) ops.push({ tick: 0 });
    ops.push({ msg, gap: s.gaps[i % s.gaps.length]! });
  });
  return ops;
}

interface Run {
  windows: WindowPoint[];
  readings: Reading[];
  outcomes: number[];
}

/** Runs ops on a pipeline from `snapshot` (or fresh); the gateway clock starts at `clock` and ticks close idle windows. */
function run(settings: PipelineSettings, ops: readonly Op[], into: Run, from?: { snapshot: PipelineSnapshot; clock: number }) {
  const p = new Pipeline(settings, { window: (w) => into.windows.push(w), reading: (r) => into.readings.push({ ...r }) }, from?.snapshot);
  let clock = from?.clock ?? T + SPAN;
  for (const op of ops) {
    if ('tick' in op) p.tick(clock);
    else {
      clock += op.gap;
      const o = p.ingest(op.msg, clock);
      into.outcomes.push(o.accepted, o.duplicate, o.late);
    }
  }
  return { p, clock };
}

const newRun = (): Run => ({ windows: [], readings: [], outcomes: [] });
const total = (msgs: readonly DeviceMessage[]) => msgs.reduce((n, m) => n + m.readings.length, 0);
const sumEvery = (xs: number[], from: number) => xs.filter((_, i) => i % 3 === from).reduce((a, b) => a + b, 0);

describe('pipeline properties', () => {
  it('(1) any order with repeats gives the reference windows when horizons are large', () => {
    fc.assert(
      fc.property(distinctMessages, fc.array(fc.nat()), schedule, fc.constantFrom(0, 500, 1000, 3000), (msgs, dups, sched, lateness) => {
        const repeats = msgs.keyed.length === 0 ? [] : dups.map((i) => msgs.keyed[i % msgs.keyed.length]!);
        const all = shuffle([...msgs.keyed, ...msgs.unkeyed, ...repeats], sched.seed);
        const settings = { intervalMs: INTERVAL, allowedLatenessMs: lateness, correctionHorizonMs: 1e12, dedupHorizonMs: 1e12 };
        const out = newRun();
        run(settings, interleave(all, sched), out).p.tick(Number.MAX_VALUE);

        const unique = [...msgs.keyed, ...msgs.unkeyed];
        const expected = referenceWindows(
          unique.flatMap((m) => m.readings.map((r) => ({ device: m.device, sensor: r.sensor, ts: m.ts, value: r.value }))),
          INTERVAL,
        );
        expect(finalWindows(out.windows)).toEqual(expected);
        expect(sumEvery(out.outcomes, 0)).toBe(total(unique));
        expect(sumEvery(out.outcomes, 1)).toBe(total(repeats));
        expect(sumEvery(out.outcomes, 2)).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  const settingsArb = fc.record({
    intervalMs: fc.constant(INTERVAL),
    allowedLatenessMs: fc.constantFrom(0, 300, 1000, 2500),
    correctionHorizonMs: fc.constantFrom(0, 1000, 2000, 5000, 1e12),
    dedupHorizonMs: fc.constantFrom(0, 1000, 3000, 1e12),
  });

  /** Arbitrary traffic: repeats may carry other values, seq messages may repeat with another ts. */
  const messyMessages = fc
    .array(
      fc.record({
        device,
        off: offset,
        kind: fc.constantFrom('ts', 'ts', 'seq', 'none'),
        seq: fc.nat(8),
        readings,
      }),
      { maxLength: 60 },
    )
    .map((ms) =>
      ms.map((m): DeviceMessage => ({
        device: m.device,
        ts: T + m.off,
        tsFromDevice: m.kind === 'ts',
        seq: m.kind === 'seq' ? m.seq : undefined,
        readings: m.readings,
      })),
    );

  it('(2) with small horizons, every reading is accounted for and windows aggregate exactly the accepted ones', () => {
    fc.assert(
      fc.property(messyMessages, schedule, settingsArb, (msgs, sched, settings) => {
        const out = newRun();
        run(settings, interleave(msgs, sched), out).p.tick(Number.MAX_VALUE);
        const accepted = sumEvery(out.outcomes, 0);
        expect(accepted + sumEvery(out.outcomes, 1) + sumEvery(out.outcomes, 2)).toBe(total(msgs));
        expect(out.readings).toHaveLength(accepted);
        expect(finalWindows(out.windows)).toEqual(referenceWindows(out.readings, INTERVAL));
      }),
      { numRuns: 400 },
    );
  });

  it('(3) snapshot + restore at any point emits exactly what an uninterrupted run does', () => {
    fc.assert(
      fc.property(messyMessages, schedule, settingsArb, fc.nat(), (msgs, sched, settings, cut) => {
        const ops = interleave(msgs, sched);
        const k = cut % (ops.length + 1);
        const whole = newRun();
        const uninterrupted = run(settings, ops, whole).p;
        const wholeStats = uninterrupted.stats();
        uninterrupted.tick(Number.MAX_VALUE);

        const resumed = newRun();
        const first = run(settings, ops.slice(0, k), resumed);
        const taken = first.p.snapshot();
        const snapshot: PipelineSnapshot = copyOf(taken);
        const second = run(settings, ops.slice(k), resumed, { snapshot, clock: first.clock });
        expect(second.p.stats()).toEqual(wholeStats);
        second.p.tick(Number.MAX_VALUE);
        expect(resumed).toEqual(whole);
      }),
      { numRuns: 300 },
    );
  });

  /** The state of a snapshot in a canonical form: devices by name (the one order a capture may change). */
  const canonical = (snap: Buffer) => {
    const { devices, pending } = restoreSnapshot(copyOf(snap), INTERVAL);
    return takeSnapshot(INTERVAL, new Map([...devices].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), pending);
  };

  it('(4) a snapshot captured in steps while messages and ticks go on is the state when it began', () => {
    const renamed = fc.array(fc.constantFrom('d0', 'd1', 'd2', 'd3'), { minLength: 1 });
    // Copies of devices changed before they are written: none (written in place), some, or as many as needed.
    const budget = fc.constantFrom(0, 3000, Infinity);
    fc.assert(
      fc.property(
        messyMessages,
        renamed,
        schedule,
        settingsArb,
        fc.nat(),
        fc.array(fc.nat(3)),
        budget,
        (msgs, names, sched, settings, cut, steps, copyBudget) => {
          // Four devices, so that some appear only while the capture runs.
          const ops = interleave(
            msgs.map((m, i) => ({ ...m, device: names[i % names.length]! })),
            sched,
          );
          const k = cut % (ops.length + 1);
          const first = run(settings, ops.slice(0, k), newRun());
          const atStart = first.p.snapshot();
          const capture = first.p.beginSnapshot(copyBudget);
          const p = first.p;
          let clock = first.clock;
          ops.slice(k).forEach((op, i) => {
            capture.step(steps.length === 0 ? 0 : steps[i % steps.length]!);
            if ('tick' in op) p.tick(clock);
            else p.ingest(op.msg, (clock += op.gap));
          });
          const stepped = capture.finish();
          expect(canonical(stepped)).toEqual(canonical(atStart));
          // The capture is over: another can begin, and it is the state now.
          expect(canonical(p.beginSnapshot().finish())).toEqual(canonical(p.snapshot()));
        },
      ),
      { numRuns: 300 },
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../gateway/alerts/engine.js';
import { decodeAlertSnapshot } from '../../../gateway/alerts/snapshot-binary-read.js';
import type { AlertEvent } from '../../../gateway/alerts/types.js';
import { Pipeline } from '../../../gateway/pipeline/pipeline.js';
import { restoreSnapshot, takeSnapshot } from '../../../gateway/pipeline/snapshot.js';
import type { DeviceMessage, PipelineSettings } from '../../../gateway/pipeline/types.js';
import { RowWriter, type RowBatch } from '../../../gateway/persist/rows.js';
import { MemoryStateStore } from '../../../gateway/state/memory-state.js';
import { rulesFrom } from '../alerts/helpers.js';
import { runPipelineSegments, runSegments, segmentOf } from '../../support/delta-segments.js';

/**
 * Incremental checkpoints (docs/durability.md): after any sequence of operations, checkpoints taken as deltas
 * (only the devices changed since the last one, captured in steps while operations go on, some of them failing
 * and some interrupted by a restart from the store) restore exactly the state a whole snapshot taken at the
 * same moment holds, pending order included.
 */

const T = 1_699_999_200_000;
const INTERVAL = 1000;
const settings: PipelineSettings = { intervalMs: INTERVAL, allowedLatenessMs: 500, correctionHorizonMs: 3000, dedupHorizonMs: 4000 };

const noRows = (): RowBatch => new RowWriter().finish();

/** The pipeline's state in a canonical form: devices by name (the one order a capture may change); pending order kept. */
const canonical = (snap: Uint8Array) => {
  const { devices, pending } = restoreSnapshot(Buffer.from(snap), INTERVAL);
  return takeSnapshot(INTERVAL, new Map([...devices].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), pending);
};

const deviceName = fc.constantFrom('d0', 'd1', 'd2', 'd3', 'd4', 'd5');
const message = fc.record({
  device: deviceName,
  off: fc.integer({ min: 0, max: 40 }).map((i) => i * 250),
  kind: fc.constantFrom('ts', 'seq', 'none'),
  seq: fc.nat(30),
  sensors: fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 }),
  value: fc.integer({ min: -40, max: 40 }),
});
type Msg = typeof message extends fc.Arbitrary<infer M> ? M : never;
const toMessage = (m: Msg, base: number): DeviceMessage => ({
  device: m.device,
  ts: base + m.off,
  tsFromDevice: m.kind === 'ts',
  seq: m.kind === 'seq' ? m.seq : undefined,
  readings: m.sensors.map((sensor, i) => ({ sensor, value: m.value + i / 4 })),
});

const op = fc.oneof({ weight: 6, arbitrary: message.map((m) => ({ msg: m })) }, { weight: 1, arbitrary: fc.nat(3000).map((t) => ({ tick: t })) });
const segment = segmentOf(op, 12);

describe('incremental pipeline checkpoints', () => {
  it('base + deltas restore the state a whole snapshot holds, after random operations, failed saves and restarts', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 8 }), (segments) => {
        const store = new MemoryStateStore();
        let p = new Pipeline(settings, { window: () => {} });
        let restarts = 0;
        let clock = T;
        let base = T;
        const apply = (o: { msg: Msg } | { tick: number }) => {
          if ('tick' in o) p.tick((clock += o.tick));
          else {
            clock += 100;
            base += 50; // event times move on, so horizons evict and windows close
            p.ingest(toMessage(o.msg, base), clock);
          }
        };
        runPipelineSegments(segments, store, {
          apply,
          pipeline: () => p,
          check: (saved, atStart) => expect(canonical(saved)).toEqual(canonical(atStart)),
          // Every other restart restores as from the store's rows (its next delta is incremental), the rest whole.
          restart: (saved) => (p = new Pipeline(settings, { window: () => {} }, saved, ++restarts % 2 === 1)),
        });
        // One more, after everything: still the whole state.
        const atEnd = p.snapshot();
        const last = p.beginDelta();
        store.saveDelta({
          pipelineHead: p.deltaHead(),
          pipelineRows: last.finish(),
          pipelineFull: last.full,
          alertRows: noRows(),
          alertsFull: false,
          sparkplug: new Uint8Array(0),
          savedAt: 0,
          logPosition: 0,
        });
        if (store.load() !== undefined) expect(canonical(store.load()!.pipeline)).toEqual(canonical(atEnd));
      }),
      { numRuns: 400 },
    );
  });

  it('a delta holds only the devices changed since the last one', () => {
    const p = new Pipeline(settings, { window: () => {} });
    for (let i = 0; i < 100; i++) p.ingest({ device: `d${i}`, ts: T, tsFromDevice: true, seq: undefined, readings: [{ sensor: 'a', value: 1 }] }, T);
    const first = p.beginDelta();
    expect(first.full).toBe(true);
    expect(first.finish().rows).toBe(100);
    p.ingest({ device: 'd7', ts: T + 1, tsFromDevice: true, seq: undefined, readings: [{ sensor: 'a', value: 2 }] }, T + 1);
    const second = p.beginDelta();
    expect(second.full).toBe(false);
    expect(second.finish().rows).toBe(1);
    expect(p.beginDelta().finish().rows).toBe(0);
  });
});

const RULES = `rules:
  - { name: hot, match: { sensor: a }, above: 20, hysteresis: 5, severity: critical }
  - { name: cold, match: { device: "d?", sensor: c }, below: -20, for: 2s, severity: warning }
  - { name: silent, match: { sensor: b }, noData: 3s, severity: info }
`;
const RULES_2 = `rules:
  - { name: hot, match: { sensor: a }, above: 20, hysteresis: 5, severity: critical }
  - { name: silent, match: { device: d4, sensor: b }, noData: 3s, severity: info }
`;

const alertOp = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      device: deviceName,
      sensor: fc.constantFrom('a', 'b', 'c'),
      dt: fc.integer({ min: -500, max: 1500 }),
      value: fc.integer({ min: -40, max: 40 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ tick: fc.nat(5000) }) },
  { weight: 1, arbitrary: fc.record({ stale: deviceName }) },
  { weight: 1, arbitrary: fc.record({ rules: fc.boolean() }) },
);
const alertSegment = fc.record({
  ops: fc.array(alertOp, { maxLength: 12 }),
  steps: fc.array(fc.nat(2), { maxLength: 6 }),
  outcome: fc.constantFrom('saved', 'saved', 'failed', 'restart'),
});

/** The alert state in a canonical form: sensors by device and sensor, firing events by key. */
const canonicalAlerts = (s: { snapshot: { sensors: readonly { device: string; sensor: string }[] }; firing: readonly AlertEvent[] }) => ({
  sensors: [...s.snapshot.sensors].sort((x, y) => (`${x.device}/${x.sensor}` < `${y.device}/${y.sensor}` ? -1 : 1)),
  firing: [...s.firing].map((e) => JSON.stringify(e)).sort(),
});

describe('incremental alert checkpoints', () => {
  it('base + deltas restore the state a whole snapshot holds, after random readings, ticks, stale devices, rule changes, failed saves and restarts', () => {
    fc.assert(
      fc.property(fc.array(alertSegment, { minLength: 1, maxLength: 8 }), (segments) => {
        const store = new MemoryStateStore();
        let clock = T;
        let engine = new AlertEngine(rulesFrom(RULES), { now: () => clock });
        // The firing events, as the service keeps them.
        const firing = new Map<string, AlertEvent>();
        const key = (rule: string, device: string, sensor: string) => `${rule}\u0000${device}\u0000${sensor}`;
        const track = (events: readonly AlertEvent[]) => {
          for (const e of events) {
            if (e.state === 'firing') firing.set(key(e.rule, e.device, e.sensor), e);
            else firing.delete(key(e.rule, e.device, e.sensor));
          }
        };
        const firingOf = (rule: string, device: string, sensor: string) => firing.get(key(rule, device, sensor));
        const whole = () => canonicalAlerts(decodeAlertOk(engine.encodeSnapshot(firing)));
        const apply = (o: fc.Arbitrary<unknown> extends never ? never : Record<string, unknown>) => {
          if ('tick' in o) track(engine.tick((clock += o.tick as number)));
          else if ('stale' in o) track(engine.staleNow(o.stale as string, clock));
          else if ('rules' in o) track(engine.setRules(rulesFrom(o.rules ? RULES : RULES_2), clock));
          else {
            clock += 100;
            track(engine.onReading({ device: o.device as string, sensor: o.sensor as string, ts: clock + (o.dt as number), value: o.value as number }));
          }
        };
        runSegments(segments, {
          apply,
          begin: () => {
            const atStart = whole();
            return { delta: engine.beginDelta(firingOf), atStart };
          },
          saved: (rows, full, atStart, outcome) => {
            store.saveDelta({
              pipelineHead: new Uint8Array(0),
              pipelineRows: noRows(),
              pipelineFull: false,
              alertRows: rows,
              alertsFull: full,
              sparkplug: new Uint8Array(0),
              savedAt: 0,
              logPosition: 0,
            });
            expect(canonicalAlerts(decodeAlertOk(store.load()!.alerts))).toEqual(atStart);
            if (outcome !== 'restart') return;
            engine = new AlertEngine(engine.rules(), { now: () => clock });
            const restored = decodeAlertOk(store.load()!.alerts);
            engine.restoreSnapshot(restored.snapshot, clock);
            // As the service keeps them (AlertService.restore): the saved events of the alerts firing now.
            const now = new Set(engine.firing().map((f) => key(f.rule, f.device, f.sensor)));
            firing.clear();
            for (const e of restored.firing) if (now.has(key(e.rule, e.device, e.sensor))) firing.set(key(e.rule, e.device, e.sensor), e);
          },
        });
      }),
      { numRuns: 400 },
    );
  });
});

function decodeAlertOk(bytes: Uint8Array) {
  const d = decodeAlertSnapshot(bytes);
  if (!d.ok) throw new Error(d.error);
  return d;
}

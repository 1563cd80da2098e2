import { describe, expect, it } from 'vitest';
import { harness, T0 } from './pipeline-harness.js';

/** Readings the pipeline does not take: repeats (dedup) and sensors past maxSensorsPerDevice. Windows: pipeline.test.ts. */

describe('sensors per device (maxSensorsPerDevice)', () => {
  it('refuses readings of new names beyond the bound, keeps taking the known ones, and bounds each device alone', () => {
    const h = harness({ maxSensorsPerDevice: 3 });
    const names = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ sensor: `s${from + i}`, value: i }));
    expect(h.send({ ts: T0 + 1, readings: names(5) })).toEqual({ accepted: 3, duplicate: 0, late: 0, tooManySensors: 2 });
    expect(h.p.stats().sensors).toBe(3);
    // The known sensors go on; further new names are refused again, and cost no state.
    expect(h.send({ ts: T0 + 2, readings: [...names(3), ...names(100, 10)] })).toEqual({ accepted: 3, duplicate: 0, late: 0, tooManySensors: 100 });
    expect(h.p.stats().sensors).toBe(3);
    expect(h.readings.map((r) => r.sensor).sort()).toEqual(['s0', 's0', 's1', 's1', 's2', 's2']);
    // Another device has its own bound.
    expect(h.send({ device: 'd2', ts: T0 + 1, readings: names(4) })).toEqual({ accepted: 3, duplicate: 0, late: 0, tooManySensors: 1 });
    h.p.tick(Number.MAX_VALUE);
    expect(h.windows.filter((w) => w.device === 'd1').map((w) => [w.sensor, w.count])).toEqual([
      ['s0', 2],
      ['s1', 2],
      ['s2', 2],
    ]);
  });
});

describe('dedup', () => {
  it('drops repeats of (device, sensor, ts); the first one wins', () => {
    const h = harness();
    expect(
      h.send({
        ts: T0 + 1,
        readings: [
          { sensor: 'a', value: 1 },
          { sensor: 'b', value: 2 },
        ],
      }),
    ).toEqual({ accepted: 2, duplicate: 0, late: 0, tooManySensors: 0 });
    expect(
      h.send({
        ts: T0 + 1,
        readings: [
          { sensor: 'a', value: 9 },
          { sensor: 'c', value: 3 },
        ],
      }),
    ).toEqual({ accepted: 1, duplicate: 1, late: 0, tooManySensors: 0 });
    expect(h.send({ ts: T0 + 1, device: 'd2', readings: [{ sensor: 'a', value: 4 }] }).accepted).toBe(1);
    h.p.tick(Number.MAX_VALUE);
    expect(h.windows.map((w) => [w.device, w.sensor, w.mean])).toEqual([
      ['d1', 'a', 1],
      ['d1', 'b', 2],
      ['d1', 'c', 3],
      ['d2', 'a', 4],
    ]);
  });

  it('drops a repeated (device, seq) message whole when it carries no ts', () => {
    const h = harness();
    const seqMsg = (seq: number, ts: number) =>
      h.send({
        ts,
        tsFromDevice: false,
        seq,
        readings: [
          { sensor: 'a', value: seq },
          { sensor: 'b', value: seq },
        ],
      });
    expect(seqMsg(7, T0 + 1000)).toEqual({ accepted: 2, duplicate: 0, late: 0, tooManySensors: 0 });
    expect(seqMsg(7, T0 + 2000)).toEqual({ accepted: 0, duplicate: 2, late: 0, tooManySensors: 0 });
    expect(seqMsg(8, T0 + 2000)).toEqual({ accepted: 2, duplicate: 0, late: 0, tooManySensors: 0 });
    expect(seqMsg(7, T0 + 61_000)).toEqual({ accepted: 0, duplicate: 2, late: 0, tooManySensors: 0 }); // 60s later: still within the horizon
    expect(seqMsg(7, T0 + 61_001)).toEqual({ accepted: 2, duplicate: 0, late: 0, tooManySensors: 0 }); // beyond it: a new message
    expect(seqMsg(9, T0 + 1000)).toEqual({ accepted: 0, duplicate: 0, late: 2, tooManySensors: 0 }); // older than the horizon: unprovable
  });

  it('does not deduplicate messages with neither ts nor seq', () => {
    const h = harness();
    const m = { ts: T0 + 1, tsFromDevice: false, readings: [{ sensor: 'a', value: 1 }] };
    expect(h.send(m).accepted).toBe(1);
    expect(h.send(m).accepted).toBe(1);
  });

  it('keeps memory bounded over a long stream', () => {
    const h = harness({ dedupHorizonMs: 30_000, correctionHorizonMs: 60_000 });
    let maxKeys = 0;
    let maxRetained = 0;
    for (let i = 0; i < 20_000; i++) {
      h.send({ ts: T0 + i * 1000, readings: [{ sensor: 'a', value: i }] });
      h.send({ ts: T0 + i * 1000, tsFromDevice: false, seq: i, device: 'd2', readings: [{ sensor: 'b', value: i }] });
      const s = h.p.stats();
      maxKeys = Math.max(maxKeys, s.dedupKeys);
      maxRetained = Math.max(maxRetained, s.retainedWindows);
    }
    // 31 ts keys per 30s horizon per keyed stream; 60s / 10s retained windows (+1 at the boundary) per sensor.
    expect(maxKeys).toBeLessThanOrEqual(2 * 31);
    expect(maxRetained).toBeLessThanOrEqual(2 * 7);
    expect(h.p.stats()).toMatchObject({ sensors: 2, openWindows: 2 });
    expect(h.windows).toHaveLength(2 * 1999);
  });
});

import { describe, expect, it } from 'vitest';
import { DeviceModel } from '../../../devices/sim/device.js';
import { DeviceFaults, isOffline, NO_FAULTS, type Outgoing, type TelemetryMessage } from '../../../devices/sim/faults.js';
import { createRng } from '../../../devices/sim/rng.js';

const msg = (seq: number): TelemetryMessage => ({ ts: 1000 * seq, seq, readings: { t: seq } });
const seqs = (out: readonly Outgoing[]) =>
  out.map((o) => (Array.isArray(o.payload) ? (o.payload as TelemetryMessage[]).map((m) => m.seq) : (o.payload as TelemetryMessage).seq));

/** Feeds n samples one second apart and returns everything sent, in order. */
function run(faults: DeviceFaults, n: number, offline: (t: number) => boolean = () => false): Outgoing[] {
  const out: Outgoing[] = [];
  for (let i = 0; i < n; i++) out.push(...faults.step(msg(i), i * 1000, offline(i * 1000)));
  return out;
}

describe('fault injection', () => {
  it('without faults sends every message once, in order', () => {
    const out = run(new DeviceFaults(NO_FAULTS, createRng(1)), 50);
    expect(seqs(out)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(out.every((o) => o.kind === 'live')).toBe(true);
  });

  it('resends about the requested share of messages, right after the original', () => {
    const f = new DeviceFaults({ ...NO_FAULTS, duplicates: 0.1 }, createRng(2));
    const out = run(f, 5000);
    const dups = out.filter((o) => o.kind === 'duplicate');
    expect(dups.length).toBe(f.counters.duplicates);
    expect(dups.length / 5000).toBeGreaterThan(0.08);
    expect(dups.length / 5000).toBeLessThan(0.12);
    out.forEach((o, i) => {
      if (o.kind === 'duplicate') expect(out[i - 1]!.payload).toBe(o.payload);
    });
    expect(new Set(seqs(out)).size).toBe(5000);
  });

  it('reorders by swapping a held message with the next one; nothing is lost', () => {
    const f = new DeviceFaults({ ...NO_FAULTS, reorder: 0.2 }, createRng(3));
    const out = [...run(f, 2000), ...f.drain()];
    const s = seqs(out) as number[];
    expect([...s].sort((a, b) => a - b)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    const inversions = s.filter((x, i) => i > 0 && x < s[i - 1]!).length;
    expect(inversions).toBe(out.filter((o) => o.kind === 'reordered').length);
    expect(f.counters.reordered).toBeGreaterThan(250);
  });

  it('holds late messages back for lateBy and then sends them', () => {
    const f = new DeviceFaults({ ...NO_FAULTS, late: 0.05, lateByMs: 10_000 }, createRng(4));
    const out: { t: number; o: Outgoing }[] = [];
    for (let i = 0; i < 1000; i++) for (const o of f.step(msg(i), i * 1000, false)) out.push({ t: i * 1000, o });
    const late = out.filter((x) => x.o.kind === 'late');
    expect(late.length).toBeGreaterThan(30);
    for (const { t, o } of late) expect(t - (o.payload as TelemetryMessage).ts).toBeGreaterThanOrEqual(10_000);
    expect(late.length + f.drain().length).toBe(f.counters.late);
  });

  it('buffers while offline and flushes the backlog as arrays when back, oldest first', () => {
    const f = new DeviceFaults({ ...NO_FAULTS, backlogChunk: 4 }, createRng(5));
    const out = run(f, 20, (t) => t >= 5000 && t < 15_000);
    expect(out.map((o) => o.kind)).toEqual([...Array(5).fill('live'), 'backlog', 'backlog', 'backlog', ...Array(5).fill('live')]);
    expect(seqs(out)).toEqual([0, 1, 2, 3, 4, [5, 6, 7, 8], [9, 10, 11, 12], [13, 14], 15, 16, 17, 18, 19]);
    expect(f.counters).toMatchObject({ backlogFlushes: 1, backlogMessages: 10 });
  });

  it('drops the oldest buffered messages beyond maxBacklog', () => {
    const f = new DeviceFaults({ ...NO_FAULTS, maxBacklog: 3, backlogChunk: 100 }, createRng(6));
    const out = run(f, 7, (t) => t < 6000);
    expect(seqs(out)).toEqual([[3, 4, 5], 6]);
    expect(f.counters.droppedOffline).toBe(3);
  });

  it('isOffline: offline for `for` at the end of each `every`, shifted by the phase', () => {
    const every = 60_000;
    const f = 10_000;
    expect(isOffline(49_999, 0, every, f)).toBe(false);
    expect(isOffline(50_000, 0, every, f)).toBe(true);
    expect(isOffline(59_999, 0, every, f)).toBe(true);
    expect(isOffline(60_000, 0, every, f)).toBe(false);
    expect(isOffline(40_000, 10_000, every, f)).toBe(true);
    expect(isOffline(50_000, 0, 0, f)).toBe(false);
    let offline = 0;
    for (let t = 0; t < 600_000; t += 100) if (isOffline(t, 1234, every, f)) offline++;
    expect(offline).toBe(1000);
  });
});

describe('device model', () => {
  it('numbers messages, skews its clock and reproduces itself from a seed', () => {
    const make = () => new DeviceModel({ id: 'd', sensors: ['temperature', 'humidity'], faults: NO_FAULTS, skewMs: -2000, offlinePhaseMs: 0 }, createRng(11));
    const a = make();
    const b = make();
    const sa = [a.sample(1_000_000), a.sample(1_001_000)];
    expect(sa).toEqual([b.sample(1_000_000), b.sample(1_001_000)]);
    const first = sa[0]!.out[0]!.payload as TelemetryMessage;
    expect(first.ts).toBe(998_000);
    expect(first.seq).toBe(0);
    expect(Object.keys(first.readings)).toEqual(['temperature', 'humidity']);
    expect((sa[1]!.out[0]!.payload as TelemetryMessage).seq).toBe(1);
  });
});

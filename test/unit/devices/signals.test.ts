import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed, gaussian } from '../../../devices/sim/rng.js';
import { boundedWalk, createSignal, humidity, temperature, vibration } from '../../../devices/sim/signals.js';

const HOUR = 3_600_000;
const DAY0 = Date.UTC(2026, 10, 28);

describe('seeded RNG', () => {
  it('is reproducible from a seed and differs between seeds', () => {
    const a = createRng(7);
    const b = createRng(7);
    const c = createRng(8);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(deriveSeed(1, 0)).not.toBe(deriveSeed(1, 1));
  });

  it('gives standard normal deviates', () => {
    const rng = createRng(3);
    const xs = Array.from({ length: 20_000 }, () => gaussian(rng));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
    expect(xs.every(Number.isFinite)).toBe(true);
  });
});

describe('signals', () => {
  it('temperature follows a daily cycle: warm mid-afternoon, cool before dawn, with small noise', () => {
    const t = temperature(createRng(1), { base: 20, amplitude: 5, noise: 0.1 });
    const at = (h: number) => t.next(DAY0 + h * HOUR);
    expect(at(15)).toBeCloseTo(25, 0);
    expect(at(3)).toBeCloseTo(15, 0);
    expect(at(9)).toBeCloseTo(20, 0);
    const sameHour = Array.from({ length: 200 }, () => at(15));
    const spread = Math.max(...sameHour) - Math.min(...sameHour);
    expect(spread).toBeGreaterThan(0);
    expect(spread).toBeLessThan(1.2);
  });

  it('humidity wanders but never leaves 20..95 %', () => {
    const h = humidity(createRng(2));
    const xs = Array.from({ length: 50_000 }, (_, i) => h.next(DAY0 + i * 1000));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...xs)).toBeLessThanOrEqual(95);
    expect(Math.max(...xs) - Math.min(...xs)).toBeGreaterThan(10); // it does move
    // A walk: consecutive samples are close.
    const jumps = xs.slice(1).map((x, i) => Math.abs(x - xs[i]!));
    expect(Math.max(...jumps)).toBeLessThan(3);
  });

  it('a bounded walk reflects even steps wider than its range', () => {
    const w = boundedWalk(createRng(4), { min: 0, max: 1, step: 10, decimals: 6 });
    for (let i = 0; i < 10_000; i++) {
      const v = w.next(0);
      expect(v >= 0 && v <= 1).toBe(true);
    }
  });

  it('vibration sits on a low floor and spikes now and then, decaying', () => {
    const v = vibration(createRng(5), { floor: 0.02, spikeProbability: 0.01, decay: 0.5 });
    const xs = Array.from({ length: 10_000 }, () => v.next(0));
    const spikes = xs.filter((x) => x > 0.9).length;
    expect(spikes).toBeGreaterThan(20);
    expect(spikes).toBeLessThan(500);
    expect(xs.filter((x) => x < 0.06).length / xs.length).toBeGreaterThan(0.8);
    const peak = xs.indexOf(Math.max(...xs));
    expect(xs[peak + 1]!).toBeLessThan(xs[peak]!);
  });

  it('gives unknown sensor names a bounded walk and is reproducible per seed', () => {
    const a = createSignal('soil_moisture', createRng(9));
    const b = createSignal('soil_moisture', createRng(9));
    const xs = Array.from({ length: 100 }, () => a.next(0));
    expect(Array.from({ length: 100 }, () => b.next(0))).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x <= 100)).toBe(true);
  });
});

import { gaussian, type Rng } from './rng.js';

/**
 * Signal models of virtual sensors. Each is a small state machine advanced once per sample; `next(t)` takes the
 * event time so the daily cycle follows the (possibly skewed) device clock. Values are rounded to what a real
 * sensor reports, which also keeps payloads realistic in size.
 */
export interface Signal {
  next(tMs: number): number;
}

const DAY_MS = 86_400_000;
const round = (v: number, decimals: number) => Math.round(v * 10 ** decimals) / 10 ** decimals;

/** Daily cycle (coolest around 03:00 UTC, warmest around 15:00) plus measurement noise, around a per-device base. */
export function temperature(rng: Rng, opts: { base?: number; amplitude?: number; noise?: number } = {}): Signal {
  const base = opts.base ?? 18 + rng() * 6;
  const amplitude = opts.amplitude ?? 3 + rng() * 3;
  const noise = opts.noise ?? 0.15;
  return {
    next(t) {
      const phase = ((t % DAY_MS) / DAY_MS - 0.375) * 2 * Math.PI; // sin peaks at 0.625 day = 15:00
      return round(base + amplitude * Math.sin(phase) + noise * gaussian(rng), 2);
    },
  };
}

/** A random walk reflected at the bounds: slow drift that never leaves a physical range. */
export function boundedWalk(rng: Rng, opts: { min: number; max: number; step: number; start?: number; decimals?: number }): Signal {
  const { min, max, step } = opts;
  let x = opts.start ?? min + (max - min) * (0.3 + 0.4 * rng());
  return {
    next() {
      x += step * gaussian(rng);
      // Reflect (repeatedly, for steps wider than the range) so the walk stays in [min, max].
      while (x < min || x > max) x = x < min ? 2 * min - x : 2 * max - x;
      return round(x, opts.decimals ?? 1);
    },
  };
}

export function humidity(rng: Rng): Signal {
  return boundedWalk(rng, { min: 20, max: 95, step: 0.4 });
}

/**
 * Vibration (RMS, in g): a low noisy floor, and now and then a spike that decays over a few samples, like a
 * pump starting or a door slamming.
 */
export function vibration(rng: Rng, opts: { floor?: number; spikeProbability?: number; decay?: number } = {}): Signal {
  const floor = opts.floor ?? 0.02;
  const p = opts.spikeProbability ?? 0.02;
  const decay = opts.decay ?? 0.5;
  let excess = 0;
  return {
    next() {
      if (rng() < p) excess += 1 + rng() * 4;
      const v = floor + Math.abs(0.005 * gaussian(rng)) + excess;
      excess *= decay;
      if (excess < 1e-3) excess = 0;
      return round(v, 3);
    },
  };
}

/** Known sensor names get their model; any other name gets a bounded walk in 0..100. */
export function createSignal(sensor: string, rng: Rng): Signal {
  switch (sensor) {
    case 'temperature':
      return temperature(rng);
    case 'humidity':
      return humidity(rng);
    case 'vibration':
      return vibration(rng);
    case 'pressure':
      return boundedWalk(rng, { min: 950, max: 1050, step: 0.3 });
    case 'co2':
      return boundedWalk(rng, { min: 400, max: 2000, step: 15, decimals: 0 });
    default:
      return boundedWalk(rng, { min: 0, max: 100, step: 1 });
  }
}

/**
 * A small seeded PRNG (mulberry32) so a simulated fleet, and every unit test of it, is reproducible from a seed.
 * Not for secrets.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  (): number;
}

export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal deviate (Box-Muller). */
export function gaussian(rng: Rng): number {
  const u = 1 - rng(); // (0, 1]: log(0) is -Infinity
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** A seed for the n-th device derived from the fleet seed, so devices differ but stay reproducible. */
export function deriveSeed(seed: number, n: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(n + 1, 0xc2b2ae35)) >>> 0;
}

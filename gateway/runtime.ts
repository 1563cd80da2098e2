import { setFlagsFromString } from 'node:v8';
import type { GatewayConfig } from './config/schema.js';

/**
 * Process-wide settings of the JavaScript runtime, applied once at start before the state grows. An edge box
 * wants memory bounded more than the last few percent of speed: left alone, V8 lets the old generation grow to
 * several times the live state between full GCs (BENCHMARKS.md, memory). V8 reads this flag each time it sets
 * the next GC limit, so setting it after start takes effect.
 */
export function applyRuntimeSettings(runtime: GatewayConfig['runtime']): void {
  if (runtime.heapGrowthPercent > 0) setFlagsFromString(`--heap-growing-percent=${runtime.heapGrowthPercent}`);
}

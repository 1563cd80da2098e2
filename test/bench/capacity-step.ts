/**
 * One step of the paced capacity search (capacity.ts) at given rates, for A/B runs of two builds:
 * `node --import tsx test/bench/capacity-step.ts <rate>[,<rate>...] [gateway|bare]` (BENCH_GATEWAY_MAIN picks the
 * build). Prints each step's p99, CPU and whether it passes, as the search would judge it.
 */
import { startInfluxd } from '../support/influxd.js';
import { CAPACITY_DEFAULTS, capacityStep } from './capacity.js';
import { BENCH_RULES } from './rules.js';
import { startBareAedes, startGateway } from './servers.js';

const rates = (process.argv[2] ?? '10000').split(',').map(Number);
const bare = process.argv[3] === 'bare';
const influx = bare ? undefined : await startInfluxd();
try {
  let db = 0;
  for (const rate of rates) {
    const start = bare ? () => startBareAedes() : () => startGateway({ influxUrl: influx!.url, database: `step${++db}`, rules: BENCH_RULES });
    await capacityStep(start, bare ? 'delivery' : 'alert', rate, CAPACITY_DEFAULTS);
  }
} finally {
  await influx?.dispose();
}

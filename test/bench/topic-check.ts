/**
 * Micro-benchmark of the topic check every PUBLISH passes (gateway/broker/topic-check.ts):
 * `npx tsx test/bench/topic-check.ts`. Prints ns per check for typical valid topics, next to an empty loop over
 * the same topics. Not a test: timings on a shared machine are noisy, so nothing here asserts them.
 */
import { isUtf8 } from 'node:buffer';
import { topicProblem } from '../../gateway/broker/topic-check.js';

const topics = Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? `devices/dev-${i}/telemetry` : `devices/dev-${i}/sensors/temp-${i % 7}`));
const bytes = topics.map((t) => Buffer.from(t, 'utf8'));
const N = 20_000_000;

function time(name: string, f: (i: number) => unknown): void {
  let sink = 0;
  for (let i = 0; i < 1_000_000; i++) if (f(i % 1000)) sink++; // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) if (f(i % 1000)) sink++;
  const ns = Number(process.hrtime.bigint() - t0) / N;
  console.log(`${name.padEnd(34)} ${ns.toFixed(1)} ns/topic${sink === -1 ? '' : ''}`);
}

for (let round = 0; round < 3; round++) {
  time('baseline (index a topic)', (i) => topics[i]!.length === 0);
  time('topicProblem (string)', (i) => topicProblem(topics[i]!) !== undefined);
  // eslint-disable-next-line no-control-regex -- the regex the check is compared with
  time('regex /[\\u0000\\uFFFD]/', (i) => /[\u0000\uFFFD]/.test(topics[i]!));
  time('isUtf8 + indexOf(0) (bytes)', (i) => !isUtf8(bytes[i]!) || bytes[i]!.indexOf(0) >= 0);
}

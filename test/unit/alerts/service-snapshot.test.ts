import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AlertService } from '../../../gateway/alerts/service.js';
import type { AlertEvent } from '../../../gateway/alerts/types.js';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import { reading } from './helpers.js';
import { manualClock } from '../../support/manual-timers.js';

/**
 * The checkpoint's alert part as the service takes and restores it: a Buffer carrying the firing events, which
 * a restart re-publishes verbatim.
 */

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const RULES = `rules:
  - { name: hot, above: 35, hysteresis: 1 }
  - { name: slow, above: 35, for: 1m }
  - { name: silent, noData: 1m }
`;

function service(rules = RULES, start = 0) {
  const dir = mkdtempSync(join(tmpdir(), 'alert-snap-'));
  dirs.push(dir);
  const rulesFile = join(dir, 'thresholds.yaml');
  writeFileSync(rulesFile, rules);
  const clock = manualClock(start);
  const published: AlertEvent[] = [];
  const retained: AlertEvent[] = [];
  const svc = new AlertService({
    rulesFile,
    log: createLogger('silent'),
    metrics: createMetrics(),
    now: clock.now,
    publish: (e) => published.push(...e),
    retain: (e) => retained.push(...e),
  });
  svc.start();
  return { svc, clock, published, retained };
}

describe('AlertService snapshot / restore', () => {
  it('takes a Buffer; a restart re-publishes the saved firing events verbatim and takes the same bytes again', () => {
    const a = service();
    a.svc.onReading(reading('gh-1', 'temperature', 1_000, 40));
    a.svc.onReading(reading('gh-ü', '℃', 1_000, 20));
    a.clock.set(61_000);
    a.svc.tick(61_000);
    const firing = a.published.filter((e) => e.state === 'firing');
    expect(firing.map((e) => `${e.rule}:${e.device}`)).toEqual(['hot:gh-1', 'silent:gh-1', 'silent:gh-ü']);
    const bytes = a.svc.snapshot();
    expect(Buffer.isBuffer(bytes)).toBe(true);

    const b = service(RULES, 61_000);
    b.svc.restore(bytes);
    expect(b.retained).toEqual(firing);
    expect(b.published).toEqual([]);
    expect(Buffer.compare(b.svc.snapshot(), bytes)).toBe(0);
    // Still firing: the next violating reading fires nothing new; the pending `slow` kept its start.
    b.svc.onReading(reading('gh-1', 'temperature', 61_000, 41));
    expect(b.published.map((e) => `${e.rule}:${e.state}:${e.since}`)).toEqual(['slow:firing:1000', 'silent:resolved:61000']);
    a.svc.close();
    b.svc.close();
  });

  it('resolves a saved firing alert whose rule was removed while it was down', () => {
    const a = service();
    a.svc.onReading(reading('gh-1', 'temperature', 1_000, 40));
    const b = service(`rules:\n  - { name: slow, above: 35, for: 1m }\n`, 5_000);
    b.svc.restore(a.svc.snapshot());
    expect(b.retained).toEqual([]);
    expect(b.published).toMatchObject([{ rule: 'hot', device: 'gh-1', state: 'resolved', value: 40, ts: 5_000, since: 5_000 }]);
    a.svc.close();
    b.svc.close();
  });

  it('starts from ok when the snapshot is damaged', () => {
    const a = service();
    a.svc.onReading(reading('gh-1', 'temperature', 1_000, 40));
    const bytes = a.svc.snapshot();
    const b = service(RULES, 2_000);
    b.svc.restore(bytes.subarray(0, bytes.length - 1));
    expect(b.svc.firing()).toEqual([]);
    expect(b.retained).toEqual([]);
    a.svc.close();
    b.svc.close();
  });
});

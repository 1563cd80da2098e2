import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/**
 * The broker's disk store passes aedes-persistence's abstract suite (the contract every aedes persistence is held
 * to: retained matching, subscriptions, offline queues, incoming QoS 2 packets, wills), with the session bound of
 * bounded-queues.ts in place, through the promise interface aedes 1.x uses. The suite is written for
 * node:test, so it runs in a child process; this test asserts that it ran and that nothing failed.
 */
describe('broker disk store: aedes-persistence contract', () => {
  it('passes every test of the abstract suite', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', 'test/support/persistence-contract.ts'], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(r.stdout)?.[1] ?? NaN);
    expect(count('fail'), r.stdout.slice(-4000) + r.stderr.slice(-2000)).toBe(0);
    expect(count('cancelled')).toBe(0);
    expect(count('pass')).toBeGreaterThanOrEqual(50);
    expect(r.status).toBe(0);
  }, 300_000);
});

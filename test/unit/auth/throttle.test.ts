import { describe, expect, it } from 'vitest';
import { FailureThrottle } from '../../../gateway/auth/throttle.js';

describe('failure throttle', () => {
  it('doubles the delay per failure of one address, up to the cap', () => {
    const t = new FailureThrottle({ baseDelayMs: 100, maxDelayMs: 1000 });
    expect([1, 2, 3, 4, 5, 6].map(() => t.fail('10.0.0.1', 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(t.fail('10.0.0.2', 0)).toBe(100);
  });

  it('forgets an address some time after its last failure', () => {
    const t = new FailureThrottle({ baseDelayMs: 100, forgetAfterMs: 60_000 });
    t.fail('a', 0);
    t.fail('a', 1000);
    expect(t.failures('a', 60_999)).toBe(2);
    expect(t.failures('a', 61_000)).toBe(0);
    expect(t.fail('a', 61_000)).toBe(100);
  });

  it('keeps at most maxEntries addresses, evicting the least recently failing', () => {
    const t = new FailureThrottle({ maxEntries: 3 });
    for (const a of ['a', 'b', 'c']) t.fail(a, 0);
    t.fail('a', 1); // a is now the most recent
    t.fail('d', 2); // evicts b
    expect(t.size).toBe(3);
    expect(t.failures('b', 3)).toBe(0);
    expect(t.failures('a', 3)).toBe(2);
    expect(t.failures('c', 3)).toBe(1);
  });

  it('stays finite for huge failure counts', () => {
    const t = new FailureThrottle({ baseDelayMs: 100, maxDelayMs: 5000 });
    let last = 0;
    for (let i = 0; i < 2000; i++) last = t.fail('x', i);
    expect(last).toBe(5000);
  });

  it('tells how long an address must still wait (the admin login), with free failures first, and forgets it on success', () => {
    const t = new FailureThrottle({ freeFailures: 2, baseDelayMs: 1000, maxDelayMs: 4000 });
    t.fail('a', 0);
    t.fail('a', 0);
    expect(t.retryAfter('a', 0)).toBe(0);
    t.fail('a', 10);
    expect(t.retryAfter('a', 10)).toBe(1000);
    expect(t.retryAfter('a', 600)).toBe(410);
    expect(t.retryAfter('a', 1010)).toBe(0);
    for (let i = 0; i < 5; i++) t.fail('a', 2000);
    expect(t.retryAfter('a', 2000)).toBe(4000);
    expect(t.retryAfter('b', 2000)).toBe(0);
    t.succeed('a');
    expect(t.retryAfter('a', 2001)).toBe(0);
    expect(t.failures('a', 2001)).toBe(0);
  });
});

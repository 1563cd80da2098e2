import { describe, expect, it } from 'vitest';
import { StopSignals, STOP_SIGNAL_COALESCE_MS } from '../../../gateway/lifecycle/stop-signals.js';

describe('StopSignals: copies of one stop request are one request', () => {
  it('the first signal stops; a copy within the coalescing time is the same request', () => {
    const s = new StopSignals();
    expect(s.receive(1000)).toBe('stop');
    // A terminal's Ctrl-C under npm: the gateway's own SIGINT and the one npm forwards, milliseconds apart.
    expect(s.receive(1002)).toBe('same');
  });

  it('a signal after the coalescing time forces the exit', () => {
    const s = new StopSignals();
    expect(s.receive(0)).toBe('stop');
    expect(s.receive(STOP_SIGNAL_COALESCE_MS)).toBe('same');
    const t = new StopSignals();
    t.receive(0);
    expect(t.receive(STOP_SIGNAL_COALESCE_MS + 1)).toBe('force');
  });

  it('a third signal forces the exit however close together', () => {
    const s = new StopSignals();
    expect([s.receive(0), s.receive(1), s.receive(2)]).toEqual(['stop', 'same', 'force']);
    expect(s.receive(3)).toBe('force');
  });

  it('a clock stepped back between two signals does not force', () => {
    const s = new StopSignals(3000);
    s.receive(10_000);
    expect(s.receive(5_000)).toBe('same');
  });
});

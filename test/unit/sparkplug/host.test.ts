import { describe, expect, it } from 'vitest';
import { bdSeq, dbl, payload, rebirthMetric, recordingHost, SETTINGS } from './host-helpers.js';

const G = 'plant1';
const E = 'edge-1';

/** NBIRTH (seq 0, bdSeq b) with node metric Temp alias 1, then DBIRTH of press (seq 1) with Motor/Speed alias 2. */
function born(b = 3) {
  const r = recordingHost();
  r.host.handle('NBIRTH', G, E, undefined, payload(0, [bdSeq(b), rebirthMetric, dbl('Temp', 1, 20)]), 1000);
  r.host.handle('DBIRTH', G, E, 'press', payload(1, [dbl('Motor/Speed', 2, 1500)]), 1000);
  return r;
}

describe('Sparkplug host: births and data', () => {
  it('births define aliases across node and devices; DATA by alias maps to the birth names', () => {
    const r = born();
    r.host.handle('NDATA', G, E, undefined, payload(2, [dbl(undefined, 1, 21)]), 2000);
    r.host.handle('DDATA', G, E, 'press', payload(3, [dbl(undefined, 2, 1600)]), 2000);
    expect(r.data.map((d) => [d.device, d.names])).toEqual([
      ['plant1/edge-1', ['Temp']], // NBIRTH: bdSeq and Node Control/* are not readings
      ['plant1/edge-1/press', ['Motor/Speed']],
      ['plant1/edge-1', ['Temp']],
      ['plant1/edge-1/press', ['Motor/Speed']],
    ]);
    expect(r.rebirths).toEqual([]);
    expect(r.events).toEqual(['node_birth', 'device_birth']);
  });

  it('an alias of another device is unknown: the metric is dropped and a rebirth requested', () => {
    const r = born();
    r.host.handle('DDATA', G, E, 'press', payload(2, [dbl(undefined, 1, 5), dbl(undefined, 2, 7)]), 2000);
    expect(r.data.at(-1)).toEqual({ device: 'plant1/edge-1/press', names: ['Motor/Speed'], payloadTs: undefined });
    expect(r.events).toContain('unknown_alias');
    expect(r.rebirths).toEqual([{ node: 'plant1/edge-1', reason: 'unknown_alias' }]);
  });

  it('a duplicate alias in a DBIRTH is counted and does not replace the first', () => {
    const r = born();
    r.host.handle('DBIRTH', G, E, 'pump', payload(2, [dbl('Flow', 1, 3)]), 2000);
    expect(r.events).toContain('duplicate_alias');
    r.host.handle('NDATA', G, E, undefined, payload(3, [dbl(undefined, 1, 22)]), 2000);
    expect(r.data.at(-1)!.names).toEqual(['Temp']);
  });

  it('DATA before any birth, and DDATA of a device never born, ask for one rebirth and are dropped', () => {
    const r = recordingHost();
    r.host.handle('NDATA', G, E, undefined, payload(5, [dbl(undefined, 1, 1)]), 1000);
    r.host.handle('NDATA', G, E, undefined, payload(6, [dbl(undefined, 1, 1)]), 1001);
    expect(r.data).toEqual([]);
    expect(r.rebirths).toEqual([{ node: 'plant1/edge-1', reason: 'no_birth' }]);
    expect(r.events).toEqual(['no_birth', 'no_birth', 'rebirth_suppressed']);
    const b = born();
    b.host.handle('DDATA', G, E, 'unknown-dev', payload(2, [dbl(undefined, 2, 1)]), 2000);
    expect(b.rebirths).toEqual([{ node: 'plant1/edge-1', reason: 'no_birth' }]);
  });

  it('nodes without a birth are not listed nor checkpointed; their birth makes them known', () => {
    const r = recordingHost();
    for (let i = 0; i < 20_000; i++) r.host.handle('NDATA', `g${i}`, E, undefined, payload(0, []), 1000);
    expect(r.host.status()).toEqual([]);
    expect([...r.host.edgeNodes()]).toEqual([]);
    r.host.handle('NBIRTH', 'g19999', E, undefined, payload(0, [bdSeq(1)]), 1001);
    expect(r.host.status()).toEqual([{ group: 'g19999', edge: E, online: true, devices: 0, devicesOnline: 0 }]);
  });

  it('DATA may name its metrics instead of aliasing them', () => {
    const r = born();
    r.host.handle('DDATA', G, E, 'press', payload(2, [{ name: 'Motor/Speed', value: { case: 'doubleValue', value: 1 } }]), 2000);
    expect(r.data.at(-1)!.names).toEqual(['Motor/Speed']);
  });
});

describe('Sparkplug host: sequence numbers', () => {
  it('wraps at 255 without a gap', () => {
    const r = recordingHost();
    r.host.handle('NBIRTH', G, E, undefined, payload(0, [bdSeq(0), dbl('T', 1, 0)]), 0);
    for (let i = 1; i <= 600; i++) r.host.handle('NDATA', G, E, undefined, payload(i & 255, [dbl(undefined, 1, i)]), i);
    r.host.tick(10_000);
    expect(r.events).not.toContain('seq_gap');
    expect(r.rebirths).toEqual([]);
  });

  it('the last seq repeated (a resend) is no gap', () => {
    const r = born();
    r.host.handle('NDATA', G, E, undefined, payload(2, [dbl(undefined, 1, 1)]), 2000);
    r.host.handle('NDATA', G, E, undefined, payload(2, [dbl(undefined, 1, 1)]), 2001);
    r.host.handle('NDATA', G, E, undefined, payload(3, [dbl(undefined, 1, 1)]), 2002);
    r.host.tick(10_000);
    expect(r.events).toEqual(['node_birth', 'device_birth', 'seq_repeat']);
    expect(r.rebirths).toEqual([]);
  });

  it('a gap filled within the reorder timeout asks for nothing', () => {
    const r = born();
    r.host.handle('NDATA', G, E, undefined, payload(3, [dbl(undefined, 1, 1)]), 2000); // 2 missing
    r.host.handle('NDATA', G, E, undefined, payload(2, [dbl(undefined, 1, 1)]), 2500); // arrives late
    r.host.tick(5000);
    expect(r.events).toEqual(['node_birth', 'device_birth', 'seq_gap', 'seq_late_fill']);
    expect(r.rebirths).toEqual([]);
    expect(r.data).toHaveLength(4); // both DATA were taken
  });

  it('a gap not filled in time asks for exactly one rebirth, then waits out the backoff, doubling it', () => {
    const r = born();
    r.host.handle('NDATA', G, E, undefined, payload(5, [dbl(undefined, 1, 1)]), 2000);
    r.host.tick(2999); // reorder timeout 1000 ms from 2000: not yet
    expect(r.rebirths).toEqual([]);
    r.host.tick(3000);
    expect(r.rebirths).toEqual([{ node: 'plant1/edge-1', reason: 'seq_gap' }]);
    // More gaps while the request is pending: suppressed (one pending per node).
    r.host.handle('NDATA', G, E, undefined, payload(9, [dbl(undefined, 1, 1)]), 3100);
    r.host.tick(4200);
    expect(r.rebirths).toHaveLength(1);
    r.host.handle('NDATA', G, E, undefined, payload(20, [dbl(undefined, 1, 1)]), 7999);
    r.host.tick(7999 + 1000); // 3000 + 5000 passed: a second request
    expect(r.rebirths).toHaveLength(2);
    r.host.handle('NDATA', G, E, undefined, payload(40, [dbl(undefined, 1, 1)]), 9000);
    r.host.tick(18_998); // second wait is 10 s from 8999
    expect(r.rebirths).toHaveLength(2);
    r.host.tick(19_000);
    r.host.handle('NDATA', G, E, undefined, payload(60, [dbl(undefined, 1, 1)]), 19_000);
    r.host.tick(20_000);
    expect(r.rebirths).toHaveLength(3);
  });

  it('the NBIRTH that answers resets seq, aliases and the backoff', () => {
    const r = born();
    r.host.handle('NDATA', G, E, undefined, payload(9, [dbl(undefined, 1, 1)]), 2000);
    r.host.tick(3000);
    expect(r.rebirths).toHaveLength(1);
    r.host.handle('NBIRTH', G, E, undefined, payload(0, [bdSeq(4), dbl('Other', 7, 1)]), 3100);
    r.host.handle('NDATA', G, E, undefined, payload(1, [dbl(undefined, 7, 2)]), 3200);
    expect(r.data.at(-1)!.names).toEqual(['Other']);
    r.host.handle('NDATA', G, E, undefined, payload(2, [dbl(undefined, 1, 2)]), 3300); // old alias: gone
    expect(r.rebirths).toEqual([
      { node: 'plant1/edge-1', reason: 'seq_gap' },
      { node: 'plant1/edge-1', reason: 'unknown_alias' },
    ]);
  });

  it('with reorderTimeout 0 a gap asks at once', () => {
    const r = recordingHost({ ...SETTINGS, reorderTimeoutMs: 0 });
    r.host.handle('NBIRTH', G, E, undefined, payload(0, [bdSeq(0), dbl('T', 1, 0)]), 0);
    r.host.handle('NDATA', G, E, undefined, payload(2, [dbl(undefined, 1, 1)]), 10);
    expect(r.rebirths).toEqual([{ node: 'plant1/edge-1', reason: 'seq_gap' }]);
  });
});

describe('Sparkplug host: deaths', () => {
  it("NDEATH with the birth's bdSeq takes the node and its devices offline, stale at once", () => {
    const r = born(3);
    r.host.handle('NDEATH', G, E, undefined, payload(undefined, [bdSeq(3)]), 5000);
    expect(r.stale).toEqual(['plant1/edge-1', 'plant1/edge-1/press']);
    expect(r.host.status()).toEqual([{ group: G, edge: E, online: false, devices: 1, devicesOnline: 0 }]);
    r.host.handle('NDATA', G, E, undefined, payload(2, [dbl(undefined, 1, 1)]), 5001);
    expect(r.rebirths).toEqual([{ node: 'plant1/edge-1', reason: 'no_birth' }]);
  });

  it('an NDEATH of an older session (another bdSeq) is ignored', () => {
    const r = born(4);
    r.host.handle('NDEATH', G, E, undefined, payload(undefined, [bdSeq(3)]), 5000);
    expect(r.stale).toEqual([]);
    expect(r.events).toContain('death_ignored');
    expect(r.host.status()[0]!.online).toBe(true);
  });

  it('DDEATH takes one device offline; its DATA then asks for a rebirth', () => {
    const r = born();
    r.host.handle('DDEATH', G, E, 'press', payload(2, []), 5000);
    expect(r.stale).toEqual(['plant1/edge-1/press']);
    expect(r.host.status()[0]).toMatchObject({ online: true, devices: 1, devicesOnline: 0 });
    r.host.handle('DDATA', G, E, 'press', payload(3, [dbl(undefined, 2, 1)]), 5001);
    expect(r.rebirths).toEqual([{ node: 'plant1/edge-1', reason: 'no_birth' }]);
  });

  it('deaths of unknown nodes are ignored', () => {
    const r = recordingHost();
    r.host.handle('NDEATH', G, 'ghost', undefined, payload(undefined, [bdSeq(0)]), 1);
    r.host.handle('DDEATH', G, 'ghost', 'd', payload(0, []), 1);
    expect(r.events).toEqual(['death_ignored', 'death_ignored']);
    expect(r.stale).toEqual([]);
  });
});

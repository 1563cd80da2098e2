import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PartitionState } from '../../../gateway/cluster/partition-state.js';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';
import type { Reading } from '../../../gateway/pipeline/types.js';
import { encodePayload, type MetricInit } from '../../../gateway/sparkplug/codec.js';
import { testPartitionStates } from '../../support/partition-states.js';
import { bdSeq, dbl } from '../sparkplug/host-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'partition-sp-'));
writeFileSync(join(dir, 'rules.yaml'), 'rules: []\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Partition states as a cluster gateway builds them, with a Sparkplug host per partition (reorder wait 1 s, backoff 5 s). */
function build() {
  const log = createLogger('silent');
  const metrics = createMetrics();
  const readings: Reading[] = [];
  const offline: string[] = [];
  const { states, sparkplug: sp } = testPartitionStates({
    dir,
    metrics,
    log,
    now: () => 0,
    output: { window: () => {}, reading: (r) => readings.push({ device: r.device, sensor: r.sensor, ts: r.ts, value: r.value }) },
    offline: (d) => offline.push(d),
  });
  const rebirths = () => sp.sent.filter((p) => p.topic.includes('/NCMD/')).map((p) => p.topic);
  return { states, readings, offline, rebirths, service: sp.service };
}

/** Stream times are T0 + a few ms; each message has a timestamp of its own (readings are not duplicates). */
const T0 = 1_750_000_000_000;
let stamp = T0;
const msg = (type: string, device: string | undefined, seq: number | undefined, metrics: MetricInit[]) => ({
  topic: `spBv1.0/plant/${type}/press${device === undefined ? '' : `/${device}`}`,
  payload: Buffer.from(encodePayload({ ...(seq !== undefined ? { seq } : {}), timestamp: (stamp += 10), metrics })),
});

/** The worker's order for one stream record: tick to its receive time, then process it. */
function feed(s: PartitionState, m: { topic: string; payload: Buffer }, at: number): void {
  s.tick(T0 + at);
  s.process(m.topic, m.payload, T0 + at);
}

const birth = [msg('NBIRTH', undefined, 0, [bdSeq(3), dbl('Temp', 1, 20)]), msg('DBIRTH', 'm4', 1, [dbl('Speed', 2, 100)])];

describe('a partition with Sparkplug edge nodes: checkpoint and replay', () => {
  it('a new owner restores the edge node from the checkpoint: DATA by alias decodes, the seq continues, no rebirth', () => {
    const a = build();
    const s1 = a.states.create(5);
    birth.forEach((m, i) => feed(s1, m, 100 + i));
    feed(s1, msg('DDATA', 'm4', 2, [dbl(undefined, 2, 101)]), 200);
    const cp = s1.capture();
    s1.close();
    expect(cp.sparkplug.length).toBeGreaterThan(0);

    const b = build();
    const s2 = b.states.create(5, cp);
    feed(s2, msg('DDATA', 'm4', 3, [dbl(undefined, 2, 102)]), 300);
    feed(s2, msg('NDATA', undefined, 4, [dbl(undefined, 1, 21)]), 400);
    s2.tick(T0 + 10_000);
    expect(b.readings.map((r) => `${r.device} ${r.sensor} ${r.value}`)).toEqual(['plant/press/m4 Speed 102', 'plant/press Temp 21']);
    expect(b.rebirths()).toEqual([]);
    expect(b.service.status()).toMatchObject({ online: 1, nodes: [{ group: 'plant', edge: 'press', online: true, devices: 1 }] });
    // NDEATH of the session (its bdSeq): the node and its device go offline at the new owner.
    feed(s2, msg('NDEATH', undefined, undefined, [bdSeq(3)]), 500);
    expect(b.offline).toEqual(['plant/press', 'plant/press/m4']);
    s2.close();
    expect(b.service.status().nodes).toEqual([]);
  });

  it('a seq awaited at the checkpoint: the late one fills it after the takeover, no spurious rebirth request', () => {
    const a = build();
    const s1 = a.states.create(5);
    birth.forEach((m, i) => feed(s1, m, 100 + i));
    feed(s1, msg('DDATA', 'm4', 3, [dbl(undefined, 2, 103)]), 200); // seq 2 skipped: awaited until 1200
    expect(s1.needsTicks()).toBe(true); // tick markers must come while a seq is awaited
    const cp = s1.capture();
    s1.close();

    const b = build();
    const s2 = b.states.create(5, cp);
    feed(s2, msg('DDATA', 'm4', 2, [dbl(undefined, 2, 102)]), 700); // the late one, within the wait
    s2.tick(T0 + 5_000);
    expect(b.rebirths()).toEqual([]);
    expect(b.readings.map((r) => r.value)).toEqual([102]);

    // The same checkpoint, and the late one never comes: the restored deadline expires at the new owner, once.
    const c = build();
    const s3 = c.states.create(5, cp);
    expect(s3.needsTicks()).toBe(true);
    s3.tick(T0 + 1_100);
    expect(c.rebirths()).toEqual([]);
    s3.tick(T0 + 1_300);
    s3.tick(T0 + 1_400);
    expect(c.rebirths()).toEqual(['spBv1.0/plant/NCMD/press']);
    expect(s3.needsTicks()).toBe(false);
  });

  it('replay decides what the first run decided: one rebirth request for an expired gap, none while the backoff holds', () => {
    const run = (cp?: ReturnType<PartitionState['capture']>) => {
      const x = build();
      const s = x.states.create(5, cp);
      return { x, s };
    };
    const { x: first, s: s1 } = run();
    birth.forEach((m, i) => feed(s1, m, 100 + i));
    const cp = s1.capture();
    // After the checkpoint: a gap that expires (stream time 1300 > 200 + 1000), then another gap within the backoff.
    const after: [ReturnType<typeof msg>, number][] = [
      [msg('DDATA', 'm4', 3, [dbl(undefined, 2, 103)]), 200],
      [msg('DDATA', 'm4', 4, [dbl(undefined, 2, 104)]), 1300],
      [msg('DDATA', 'm4', 9, [dbl(undefined, 2, 109)]), 1400],
      [msg('DDATA', 'm4', 10, [dbl(undefined, 2, 110)]), 2500],
    ];
    for (const [m, at] of after) feed(s1, m, at);
    const sentFirst = first.rebirths();
    const stateFirst = s1.capture().sparkplug;
    expect(sentFirst).toEqual(['spBv1.0/plant/NCMD/press']);

    // The new owner replays the same stream records from the checkpoint.
    const { x: second, s: s2 } = run(cp);
    for (const [m, at] of after) feed(s2, m, at);
    expect(second.rebirths()).toEqual(sentFirst);
    expect(Buffer.from(s2.capture().sparkplug).equals(Buffer.from(stateFirst))).toBe(true);
    expect(second.readings).toEqual(first.readings.slice(first.readings.length - second.readings.length));

    // A checkpoint taken while the request is unanswered keeps its backoff: the next reason within 5 s sends nothing.
    const { x: third, s: s3 } = run(s1.capture());
    feed(s3, msg('DDATA', 'm4', 20, [dbl(undefined, 2, 120)]), 2600);
    s3.tick(T0 + 4000);
    expect(third.rebirths()).toEqual([]);
    // After the backoff (the first request at 1300 + 5 s), the next expired gap is asked again.
    feed(s3, msg('DDATA', 'm4', 30, [dbl(undefined, 2, 130)]), 6500);
    s3.tick(T0 + 8000);
    expect(third.rebirths()).toEqual(['spBv1.0/plant/NCMD/press']);
  });
});

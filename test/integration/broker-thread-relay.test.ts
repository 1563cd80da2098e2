import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PublishRelay } from '../../gateway/broker/front.js';
import { BrokerThread } from '../../gateway/broker/thread/broker-thread.js';
import { MAX_RELAY_OUTSTANDING } from '../../gateway/broker/thread/protocol.js';
import { validateConfig } from '../../gateway/config/load.js';
import { createLogger } from '../../gateway/log.js';
import { createMetrics } from '../../gateway/metrics.js';
import { testConfigTree } from '../support/gateway.js';
import { connect } from '../support/mqtt.js';
import { waitFor } from '../support/wait.js';

/**
 * The broker thread's hand-over of non-ingest client publishes (cluster mode: cluster/relay.ts takes them). A QoS 0
 * publish is routed at once, but the thread keeps count of those the gateway has not taken yet: past
 * MAX_RELAY_OUTSTANDING the client waits (aedes reads no further from it), so a flood on a non-ingest topic while
 * the gateway's thread is busy is held back instead of piling up on the channel.
 */
describe('broker thread: relayed publishes are bounded', () => {
  let dir: string;
  let thread: BrokerThread;
  let port: number;
  const calls: string[] = [];
  const held: (() => void)[] = [];
  let holding = true;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'broker-relay-'));
    const config = validateConfig(testConfigTree(dir, 'http://127.0.0.1:9', { mqtt: { brokerThread: 'on' } }), 'test');
    const relay: PublishRelay = (topic, payload, qos, _retain, done) => {
      calls.push(`${topic} ${payload.toString().split(' ')[0]} ${qos}`);
      if (holding) held.push(() => done(null));
      else done(null);
    };
    thread = new BrokerThread(config, {
      log: createLogger('silent'),
      metrics: createMetrics(),
      gate: (_t, _p, _q, _at, done) => done(null),
      relay,
      now: Date.now,
    });
    await thread.started();
    port = (await thread.listen()).mqtt;
  });

  afterAll(async () => {
    await thread?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds a QoS 0 publisher once MAX_RELAY_OUTSTANDING are not taken, and loses nothing when the gateway catches up', async () => {
    // 4 KiB each: the flood spans many socket reads. aedes dispatches every packet of one read before it reads on,
    // so the bound holds to within one read's packets (a read is at most 64 KiB: 16 of these).
    const n = MAX_RELAY_OUTSTANDING * 4;
    const body = 'x'.repeat(4096);
    const client = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'flood' });
    try {
      const written = Array.from({ length: n }, (_, i) => client.publishAsync('devices/flood/commands/x', `${i} ${body}`, { qos: 0 }));
      await waitFor('the gateway side holding the first ones', () => calls.length >= MAX_RELAY_OUTSTANDING + 1);
      // Room for an unbounded hand-over to show itself; the assertion below holds whatever the timing.
      await new Promise((r) => setTimeout(r, 500));
      expect(calls.length).toBeLessThanOrEqual(MAX_RELAY_OUTSTANDING + 1 + 16);
      holding = false;
      for (const release of held.splice(0)) release();
      await Promise.all(written);
      await waitFor('every publish handed over', () => calls.length === n);
      expect(calls).toEqual(Array.from({ length: n }, (_, i) => `devices/flood/commands/x ${i} 0`));
    } finally {
      await client.endAsync();
    }
  });
});

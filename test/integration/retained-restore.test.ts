import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect, publish } from '../support/mqtt.js';

/**
 * The retained-store bounds (mqtt.maxRetainedMessages, retained-budget.ts) with the disk store (mqtt.sessions: disk):
 * retained messages restored at start count from the first CONNECT, so a restart does not reset the bound.
 */
const MAX_RETAINED = 3;
const R = 'devices/ret/state/';

/** The retained messages a new subscriber to R# gets; a live message published after them is the fence. */
async function retainedTopics(tg: TestGateway, expected: number): Promise<string[]> {
  const sub = await connect(tg.mqttUrl, { clientId: `peek-${Date.now()}` });
  const got: { topic: string; retain: boolean }[] = [];
  sub.on('message', (topic, _p, packet) => got.push({ topic, retain: packet.retain }));
  await sub.subscribeAsync([`${R}#`, 'devices/fence/#'], { qos: 1 });
  await waitFor('the retained messages', () => got.filter((m) => m.retain).length >= expected);
  const fence = await connect(tg.mqttUrl, { clientId: `fence-${Date.now()}` });
  await publish(fence, 'devices/fence/x/y', 'x');
  await fence.endAsync();
  await waitFor('the fence', () => got.some((m) => m.topic.startsWith('devices/fence/')));
  await sub.endAsync();
  return got
    .filter((m) => m.retain)
    .map((m) => m.topic)
    .sort();
}

describe.each(['on', 'off'] as const)('retained bounds across a restart with mqtt.sessions: disk (brokerThread %s)', (brokerThread) => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-retained-'));
  let tg: TestGateway | undefined;
  let client: MqttClient | undefined;
  const start = () =>
    startTestGateway({
      influxUrl: 'http://127.0.0.1:9',
      dir,
      rules: 'rules: []\n',
      overrides: { mqtt: { sessions: 'disk', maxRetainedMessages: MAX_RETAINED, brokerThread } },
    });

  afterAll(async () => {
    await client?.endAsync(true);
    await tg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('counts the retained messages restored from disk: a new topic beyond the bound is refused after the restart', async () => {
    tg = await start();
    client = await connect(tg.mqttUrl, { clientId: 'ret-1' });
    for (let i = 0; i < MAX_RETAINED; i++) await publish(client, `${R}${i}`, `v${i}`, 1, true);
    expect(await metricValue(tg.gw, 'mqttRefused', { reason: 'retained_limit' })).toBe(0);
    await client.endAsync();
    await tg.stop();

    tg = await start();
    expect(await retainedTopics(tg, MAX_RETAINED)).toEqual([`${R}0`, `${R}1`, `${R}2`]);
    client = await connect(tg.mqttUrl, { clientId: 'ret-2' });
    await publish(client, `${R}new`, 'beyond', 1, true);
    expect(await metricValue(tg.gw, 'mqttRefused', { reason: 'retained_limit' })).toBe(1);
    await publish(client, `${R}0`, 'updated', 1, true); // an update of a restored topic is still admitted
    expect(await metricValue(tg.gw, 'mqttRefused', { reason: 'retained_limit' })).toBe(1);
    expect(await retainedTopics(tg, MAX_RETAINED)).toEqual([`${R}0`, `${R}1`, `${R}2`]);
  });
});

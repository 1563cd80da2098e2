import { describe, expect, it } from 'vitest';
import { CounterMirror, createCounterBuffer, sharedBrokerMetrics } from '../../../gateway/broker/thread/broker-counters.js';
import { REFUSED_REASONS } from '../../../gateway/broker/limits.js';
import { createMetrics } from '../../../gateway/metrics.js';

async function value(metric: { get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] }> }, reason?: string): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => reason === undefined || v.labels['reason'] === reason).reduce((s, v) => s + v.value, 0);
}

/** The broker thread's end and the gateway's registry, wired as BrokerThread wires them. */
function setup() {
  const buffer = createCounterBuffer();
  const metrics = createMetrics();
  const mirror = new CounterMirror(buffer, metrics);
  metrics.onBrokerCollect(() => mirror.sync());
  return { thread: sharedBrokerMetrics(buffer), metrics };
}

describe('broker counters in shared memory', () => {
  it('every refusal reason has a slot of its own', async () => {
    const { thread, metrics } = setup();
    REFUSED_REASONS.forEach((reason, i) => {
      for (let n = 0; n <= i; n++) thread.mqttRefused.inc({ reason });
    });
    for (const [i, reason] of REFUSED_REASONS.entries()) expect(await value(metrics.mqttRefused, reason)).toBe(i + 1);
    expect(await value(metrics.authFailures)).toBe(0);
  });

  it('a metric read moves what the broker thread counted into the registry, once', async () => {
    const { thread, metrics } = setup();

    thread.authFailures.inc({ reason: 'bad_password' });
    thread.authFailures.inc({ reason: 'bad_password' });
    thread.authFailures.inc({ reason: 'subscribe_denied' });
    thread.mqttRefused.inc({ reason: 'slow_consumer' });
    thread.connectedClients.inc();
    thread.connectedClients.inc();
    thread.connectedClients.dec();
    thread.brokerHeld!.inc(7);

    expect(await value(metrics.authFailures, 'bad_password')).toBe(2);
    expect(await value(metrics.authFailures, 'subscribe_denied')).toBe(1);
    expect(await value(metrics.authFailures)).toBe(3);
    expect(await value(metrics.mqttRefused, 'slow_consumer')).toBe(1);
    expect(await value(metrics.connectedClients)).toBe(1);
    expect(await value(metrics.brokerHeld)).toBe(7);
    // Read again with nothing new: nothing counted twice.
    expect(await value(metrics.authFailures)).toBe(3);
    expect(await value(metrics.brokerHeld)).toBe(7);
    thread.connectedClients.dec();
    thread.brokerHeld!.inc(1);
    expect(await value(metrics.connectedClients)).toBe(0);
    expect(await value(metrics.brokerHeld)).toBe(8);
  });

  it('counts across the 32-bit wrap of a slot', async () => {
    const { thread, metrics } = setup();
    thread.brokerHeld!.inc(2 ** 31 - 10);
    expect(await value(metrics.brokerHeld)).toBe(2 ** 31 - 10);
    thread.brokerHeld!.inc(25); // the Int32 slot wraps to negative
    expect(await value(metrics.brokerHeld)).toBe(2 ** 31 + 15);
  });
});

import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { createFleet } from '../../devices/sim/fleet.js';
import { waitFor } from '../support/wait.js';

/**
 * A simulated device whose link comes back while the broker has not yet answered its CONNECT (a CONNACK held back,
 * as a broker does while it reads and writes the session on disk), and the fleet is stopped right then: what the
 * device buffered offline is delivered once, every publish acknowledged, and stop() returns.
 */
describe('fleet: stop while a device reconnects', () => {
  let server: Server | undefined;
  let broker: Aedes | undefined;

  afterEach(async () => {
    await new Promise<void>((r) => (broker ? broker.close(() => r()) : r()));
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    broker = undefined;
    server = undefined;
  });

  /** An aedes broker on a free port whose second CONNECT waits until `release` is called; device publishes seen. */
  async function brokerHoldingSecondConnack() {
    const held: { release?: () => void } = {};
    let connects = 0;
    broker = await Aedes.createBroker({
      authenticate: (_client, _user, _password, done) => {
        connects++;
        if (connects === 2) held.release = () => done(null, true);
        else done(null, true);
      },
    });
    const received: string[] = [];
    broker.on('publish', (packet, client) => {
      if (client && packet.topic.startsWith('devices/')) received.push(packet.topic);
    });
    server = createServer(broker.handle);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return { url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`, held, received };
  }

  // The device's clock is the test's: it goes offline and comes back when the test moves it, one period a step.
  const clock = { t: 1_000_000 };
  const fleetOn = (url: string) =>
    createFleet({
      url,
      devices: [{ id: 'rc-1' }],
      sensors: ['temperature'],
      rate: 20,
      qos: 1,
      seed: 5,
      now: () => clock.t,
      faults: { offlineEveryMs: 1000, offlineForMs: 300 },
    });
  const step = async () => {
    clock.t += 50;
    await new Promise((r) => setTimeout(r, 20));
  };
  // Bounds a hang (stop() never returned without the fix); not a timing assertion.
  const bounded = <T>(p: Promise<T>) => Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000).unref())]);

  it('the backlog of a device whose CONNACK is pending at stop is sent after it, and stop() resolves', async () => {
    const { url, held, received } = await brokerHoldingSecondConnack();
    const fleet = fleetOn(url);
    await fleet.start();
    await waitFor('the link down and back, the reconnect waiting for its CONNACK', async () => {
      await step();
      return fleet.stats().backlogFlushes > 0 && held.release !== undefined;
    });
    const stopping = fleet.stop();
    await new Promise((r) => setImmediate(r));
    held.release!();
    const s = await bounded(stopping);
    expect(s, 'stop() returned').toBeDefined();
    expect(s!.backlogMessages).toBeGreaterThan(0);
    expect(s!.errors).toBe(0);
    expect(s!.acked).toBe(s!.sent);
    expect(received).toHaveLength(s!.sent);
  });

  it('a link lost again while the reconnect waits for its CONNACK: the device comes back later and loses nothing', async () => {
    const { url, held, received } = await brokerHoldingSecondConnack();
    const fleet = fleetOn(url);
    await fleet.start();
    await waitFor('the link down and back, the reconnect waiting for its CONNACK', async () => {
      await step();
      return fleet.stats().backlogFlushes > 0 && held.release !== undefined;
    });
    // The next outage starts before the broker answers; then it does, and the link comes back once more.
    const flushes = fleet.stats().backlogFlushes;
    for (let i = 0; i < 16; i++) await step();
    held.release!();
    await waitFor('a second backlog flushed', async () => {
      await step();
      return fleet.stats().backlogFlushes > flushes;
    });
    await waitFor('everything sent acknowledged', () => fleet.stats().acked === fleet.stats().sent && fleet.stats().sent > 0);
    const s = await bounded(fleet.stop());
    expect(s, 'stop() returned').toBeDefined();
    expect(s!.errors).toBe(0);
    expect(s!.acked).toBe(s!.sent);
    expect(received).toHaveLength(s!.sent);
  });
});

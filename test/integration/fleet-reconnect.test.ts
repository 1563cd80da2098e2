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
  });

  it('the backlog of a device whose CONNACK is pending at stop is sent after it, and stop() resolves', async () => {
    let connects = 0;
    let release: (() => void) | undefined;
    broker = await Aedes.createBroker({
      // The second CONNECT (the reconnect after the outage) waits until the test releases it.
      authenticate: (_client, _user, _password, done) => {
        connects++;
        if (connects === 2) release = () => done(null, true);
        else done(null, true);
      },
    });
    const received: string[] = [];
    broker.on('publish', (packet, client) => {
      if (client && packet.topic.startsWith('devices/')) received.push(packet.topic);
    });
    server = createServer(broker.handle);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;

    // The device's clock is the test's: it goes offline and comes back when the test moves it.
    let t = 1_000_000;
    const fleet = createFleet({
      url: `mqtt://127.0.0.1:${port}`,
      devices: [{ id: 'rc-1' }],
      sensors: ['temperature'],
      rate: 20,
      qos: 1,
      seed: 5,
      now: () => t,
      faults: { offlineEveryMs: 1000, offlineForMs: 300 },
    });
    await fleet.start();
    // One period per step until the link has gone down and come back (a backlog flushed): the reconnect waits.
    await waitFor('the link down and back, the reconnect waiting for its CONNACK', async () => {
      t += 50;
      await new Promise((r) => setTimeout(r, 20));
      return fleet.stats().backlogFlushes > 0 && release !== undefined;
    });
    const stopping = fleet.stop();
    await new Promise((r) => setImmediate(r));
    release!();
    // Bounds a hang (stop() never returned without the fix); not a timing assertion.
    const s = await Promise.race([stopping, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000).unref())]);
    expect(s, 'stop() returned').toBeDefined();
    expect(s!.backlogMessages).toBeGreaterThan(0);
    expect(s!.errors).toBe(0);
    expect(s!.acked).toBe(s!.sent);
    expect(received).toHaveLength(s!.sent);
  });
});

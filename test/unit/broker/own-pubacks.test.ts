import { PassThrough } from 'node:stream';
import type { Client } from 'aedes';
import { describe, expect, it } from 'vitest';
import { OwnPubacks } from '../../../gateway/broker/thread/own-pubacks.js';

/** A client whose connection is a PassThrough: what the broker writes to it can be read back. */
function fakeClient(): { client: Client; conn: PassThrough; written: () => Buffer } {
  const conn = new PassThrough();
  const chunks: Buffer[] = [];
  conn.on('data', (c: Buffer) => chunks.push(c));
  return { client: { conn } as unknown as Client, conn, written: () => Buffer.concat(chunks) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('OwnPubacks', () => {
  it('writes a PUBACK with the packet id when the gateway acknowledges, in the order of the acknowledgements', async () => {
    const own = new OwnPubacks(10);
    const { client, written } = fakeClient();
    const ids = [1, 0x1234, 0xffff];
    const waiters = ids.map((id) => (expect(own.take(client)).toBe(true), own.waiter(client, id)));
    expect(written().length).toBe(0);
    for (const w of waiters) w(null);
    await tick();
    // [MQTT-3.4]: 0x40, remaining length 2, packet id big-endian.
    expect([...written()]).toEqual([0x40, 2, 0, 1, 0x40, 2, 0x12, 0x34, 0x40, 2, 0xff, 0xff]);
  });

  it('closes the connection without a PUBACK when the publish cannot be acknowledged', async () => {
    const own = new OwnPubacks(10);
    const { client, conn, written } = fakeClient();
    const errors: Error[] = [];
    conn.on('error', (e) => errors.push(e));
    own.take(client);
    own.waiter(client, 7)(new Error('gateway is stopping'));
    await tick();
    expect(conn.destroyed).toBe(true);
    expect(errors.map((e) => e.message)).toEqual(['gateway is stopping']);
    expect(written().length).toBe(0);
  });

  it('writes nothing to a connection that is already closed', async () => {
    const own = new OwnPubacks(10);
    const { client, conn, written } = fakeClient();
    own.take(client);
    const waiter = own.waiter(client, 9);
    conn.destroy();
    expect(() => waiter(null)).not.toThrow();
    await tick();
    expect(written().length).toBe(0);
  });

  it('gives each client at most `perClient` places, and a place back with each acknowledgement or give()', () => {
    const own = new OwnPubacks(2);
    const a = fakeClient().client;
    const b = fakeClient().client;
    expect(own.take(a)).toBe(true);
    expect(own.take(a)).toBe(true);
    expect(own.take(a)).toBe(false);
    expect(own.take(b)).toBe(true);
    own.waiter(a, 1)(null);
    expect(own.take(a)).toBe(true);
    expect(own.take(a)).toBe(false);
    own.give(a);
    own.give(a);
    expect(own.take(a)).toBe(true);
    expect(own.take(a)).toBe(true);
    expect(own.take(a)).toBe(false);
  });

  it("answers a client's publishes on every path in the order they came [MQTT-4.6.0-2]", async () => {
    const own = new OwnPubacks(10);
    const { client, conn, written } = fakeClient();
    // aedes' PUBACK is what its callback leads to, written on the same connection.
    const aedesDone = (id: number) => (err?: Error | null) => void (err ? undefined : conn.write(Buffer.from([0x40, 2, 0, id])));
    own.take(client);
    const a1 = own.waiter(client, 1);
    own.take(client);
    const a2 = own.waiter(client, 2);
    // 3: on a topic aedes acknowledges at once; 4: an ingest publish through the ring, answered by aedes; 5: this path.
    const b3 = own.ordered(client, aedesDone(3));
    const r4 = own.ordered(client, aedesDone(4));
    own.take(client);
    const a5 = own.waiter(client, 5);
    b3(null);
    a1(null);
    await tick();
    expect([...written()]).toEqual([0x40, 2, 0, 1]);
    a2(null);
    r4(null);
    a5(null);
    await tick();
    expect([...written()]).toEqual([0x40, 2, 0, 1, 0x40, 2, 0, 2, 0x40, 2, 0, 3, 0x40, 2, 0, 4, 0x40, 2, 0, 5]);
    // All answered: the client is forgotten, and a publish of it on another topic is answered at once again.
    const next = () => undefined;
    expect(own.ordered(client, next)).toBe(next);
  });

  it('keeps the order of several later publishes, whatever order their own outcomes come in', () => {
    const own = new OwnPubacks(10);
    const { client } = fakeClient();
    own.take(client);
    const a = own.waiter(client, 1);
    const order: string[] = [];
    const b = own.ordered(client, () => order.push('b'));
    const c = own.ordered(client, (err) => order.push(`c:${err?.message ?? 'ok'}`));
    c(new Error('refused'));
    a(null);
    expect(order).toEqual([]);
    b(null);
    expect(order).toEqual(['b', 'c:refused']);
  });

  it('answers a publish of a client with nothing on this path at once, with its own callback', () => {
    const own = new OwnPubacks(10);
    const { client } = fakeClient();
    const done = () => undefined;
    expect(own.ordered(client, done)).toBe(done);
  });
});

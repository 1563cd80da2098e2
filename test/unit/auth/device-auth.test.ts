import { EventEmitter } from 'node:events';
import type { Aedes, AuthenticateError, Client } from 'aedes';
import { beforeAll, describe, expect, it } from 'vitest';
import { DeviceAuth, type AnonymousMode } from '../../../gateway/auth/device-auth.js';
import { hashSecret } from '../../../gateway/auth/password.js';
import { DeviceRegistry, type DeviceRecord } from '../../../gateway/auth/registry.js';
import { FailureThrottle } from '../../../gateway/auth/throttle.js';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';

/** Enough of an aedes client for the hooks: id, the socket's address, close(). */
function fakeClient(id: string, remoteAddress = '10.0.0.5'): Client & { closedCount: number } {
  const c = Object.assign(new EventEmitter(), { id, conn: { remoteAddress }, closedCount: 0 }) as unknown as Client & { closedCount: number };
  (c as unknown as { close: () => void }).close = () => void c.closedCount++;
  return c;
}

/** A stand-in broker: the `clients` map and the 'client' event are all DeviceAuth uses. */
function fakeBroker(): Aedes & { clients: Record<string, Client> } {
  return Object.assign(new EventEmitter(), { clients: {} as Record<string, Client> }) as unknown as Aedes & { clients: Record<string, Client> };
}

type Result = { ok: true } | { ok: false; returnCode: number };

function authenticate(auth: DeviceAuth, client: Client, username?: string, password?: string): Promise<Result> {
  return new Promise((resolve) =>
    auth.authenticate(client, username, password === undefined ? undefined : Buffer.from(password), (err: AuthenticateError | null, ok: boolean | null) =>
      resolve(err ? { ok: false, returnCode: err.returnCode } : ({ ok: ok === true } as Result)),
    ),
  );
}

const SECRET = 'correct horse battery staple';
let hash: string;
beforeAll(async () => {
  hash = await hashSecret(SECRET, { ln: 10, r: 8, p: 1 });
});

function setup(anonymous: AnonymousMode = 'loopback') {
  const devices = new Map<string, DeviceRecord>([
    ['gh-1', { id: 'gh-1', passwordHash: hash, tags: undefined }],
    ['gh-2', { id: 'gh-2', passwordHash: hash, tags: undefined }],
    ['cert-only', { id: 'cert-only', passwordHash: undefined, tags: undefined }],
  ]);
  const registry = new DeviceRegistry(devices);
  const metrics = createMetrics();
  const delays: number[] = [];
  const auth = new DeviceAuth({
    registry,
    anonymous,
    metrics,
    log: createLogger('silent'),
    throttle: new FailureThrottle({ baseDelayMs: 100, maxDelayMs: 1000 }),
    sleep: async (ms) => void delays.push(ms),
  });
  const broker = fakeBroker();
  auth.attach(broker);
  const failures = async (reason: string) => (await metrics.authFailures.get()).values.find((v) => v.labels['reason'] === reason)?.value ?? 0;
  return { auth, registry, metrics, delays, broker, failures };
}

describe('DeviceAuth: CONNECT', () => {
  it('accepts a registered device with its secret, as that device', async () => {
    const { auth } = setup();
    const c = fakeClient('c1');
    expect(await authenticate(auth, c, 'gh-1', SECRET)).toEqual({ ok: true });
    expect(auth.principalOf(c)).toEqual({ kind: 'device', id: 'gh-1', via: 'password' });
  });

  it('refuses a wrong secret and an unknown device with 4, and a certificate-only device without a certificate', async () => {
    const { auth, failures } = setup();
    expect(await authenticate(auth, fakeClient('c1'), 'gh-1', 'wrong')).toEqual({ ok: false, returnCode: 4 });
    expect(await authenticate(auth, fakeClient('c2'), 'nobody', SECRET)).toEqual({ ok: false, returnCode: 4 });
    expect(await authenticate(auth, fakeClient('c3'), 'cert-only', '')).toEqual({ ok: false, returnCode: 4 });
    expect(await authenticate(auth, fakeClient('c4'), 'gh-1')).toEqual({ ok: false, returnCode: 4 });
    expect(await failures('bad_password')).toBe(2);
    expect(await failures('unknown_device')).toBe(2);
  });

  it.each<[AnonymousMode, string, boolean]>([
    ['loopback', '127.0.0.1', true],
    ['loopback', '::1', true],
    ['loopback', '::ffff:127.0.0.1', true],
    ['loopback', '10.0.0.5', false],
    ['loopback', '::ffff:10.0.0.5', false],
    ['allow', '10.0.0.5', true],
    ['deny', '127.0.0.1', false],
  ])('anonymous %s from %s: accepted %s (else return code 5)', async (mode, address, accepted) => {
    const { auth } = setup(mode);
    const c = fakeClient('tool', address);
    expect(await authenticate(auth, c)).toEqual(accepted ? { ok: true } : { ok: false, returnCode: 5 });
    if (accepted) expect(auth.principalOf(c)).toEqual({ kind: 'anonymous' });
  });

  it('takes the address of a WebSocket client from its upgrade request', async () => {
    const { auth } = setup('loopback');
    const c = fakeClient('ws');
    (c as unknown as { conn: object }).conn = {};
    (c as unknown as { req: object }).req = { socket: { remoteAddress: '192.168.1.9' } };
    expect(await authenticate(auth, c)).toEqual({ ok: false, returnCode: 5 });
  });

  it('delays the refusals of one address exponentially, not its successes nor loopback clients', async () => {
    const { auth, delays } = setup();
    for (let i = 0; i < 5; i++) await authenticate(auth, fakeClient(`c${i}`, '10.9.9.9'), 'gh-1', 'nope');
    await authenticate(auth, fakeClient('ok', '10.9.9.9'), 'gh-1', SECRET);
    await authenticate(auth, fakeClient('other', '10.9.9.8'), 'gh-1', 'nope');
    await authenticate(auth, fakeClient('local', '127.0.0.1'), 'gh-1', 'nope');
    expect(delays).toEqual([100, 200, 400, 800, 1000, 100]);
  });

  it('checks the secret against the registry of the moment: a rotated secret stops working at once', async () => {
    const { auth, registry } = setup();
    const newHash = await hashSecret('new secret', { ln: 10, r: 8, p: 1 });
    registry.replace(new Map([['gh-1', { id: 'gh-1', passwordHash: newHash, tags: undefined }]]));
    expect(await authenticate(auth, fakeClient('a'), 'gh-1', SECRET)).toEqual({ ok: false, returnCode: 4 });
    expect(await authenticate(auth, fakeClient('b'), 'gh-1', 'new secret')).toEqual({ ok: true });
  });

  it('lets a device take its own client id over, but not another device or an anonymous tool (return code 2)', async () => {
    const { auth, broker, failures } = setup();
    const first = fakeClient('shared-id');
    await authenticate(auth, first, 'gh-1', SECRET);
    broker.clients['shared-id'] = first;
    expect(await authenticate(auth, fakeClient('shared-id'), 'gh-1', SECRET)).toEqual({ ok: true });
    expect(await authenticate(auth, fakeClient('shared-id'), 'gh-2', SECRET)).toEqual({ ok: false, returnCode: 2 });
    expect(await authenticate(auth, fakeClient('shared-id', '127.0.0.1'))).toEqual({ ok: false, returnCode: 2 });
    expect(await failures('client_id_taken')).toBe(2);
  });
});

describe('DeviceAuth: ACL and registry changes', () => {
  it("refuses and counts a publish outside the device's topics and a subscription to another device", async () => {
    const { auth, failures } = setup();
    const c = fakeClient('c');
    await authenticate(auth, c, 'gh-1', SECRET);
    const pub = (topic: string) => auth.authorizePublish(c, { cmd: 'publish', topic, payload: Buffer.from('1'), qos: 0, retain: false, dup: false });
    expect(pub('devices/gh-1/telemetry')).toBeNull();
    expect(pub('devices/gh-2/telemetry')?.message).toMatch(/publish refused/);
    const granted = await new Promise((resolve) => auth.authorizeSubscribe(c, { topic: 'devices/+/telemetry', qos: 1 }, (_err, sub) => resolve(sub)));
    expect(granted).toBeNull();
    const own = await new Promise((resolve) => auth.authorizeSubscribe(c, { topic: 'alerts/gh-1/#', qos: 1 }, (_err, sub) => resolve(sub)));
    expect(own).toEqual({ topic: 'alerts/gh-1/#', qos: 1 });
    expect(await failures('publish_denied')).toBe(1);
    expect(await failures('subscribe_denied')).toBe(1);
  });

  it('refuses publishes of a client it never authenticated', () => {
    const { auth } = setup();
    expect(
      auth.authorizePublish(fakeClient('x'), { cmd: 'publish', topic: 'devices/a/telemetry', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }),
    ).not.toBeNull();
  });

  it('closes the connections of removed devices and of rotated password devices, not others', async () => {
    const { auth, broker, registry } = setup();
    const a = fakeClient('a');
    const b = fakeClient('b');
    const anon = fakeClient('t', '127.0.0.1');
    await authenticate(auth, a, 'gh-1', SECRET);
    await authenticate(auth, b, 'gh-2', SECRET);
    await authenticate(auth, anon);
    Object.assign(broker.clients, { a, b, t: anon });
    const change = registry.replace(new Map([['gh-2', { id: 'gh-2', passwordHash: hash, tags: { site: 'x' } }]]));
    expect(auth.applyChange(change)).toBe(1);
    expect([a.closedCount, b.closedCount, anon.closedCount]).toEqual([1, 0, 0]);
    const rotated = registry.replace(new Map([['gh-2', { id: 'gh-2', passwordHash: await hashSecret('x', { ln: 10, r: 8, p: 1 }), tags: undefined }]]));
    expect(auth.applyChange(rotated)).toBe(1);
    expect(b.closedCount).toBe(1);
  });

  it('closes a client registered after its device was removed during verification', async () => {
    const { auth, broker, registry } = setup();
    const c = fakeClient('late');
    await authenticate(auth, c, 'gh-1', SECRET);
    registry.replace(new Map());
    broker.emit('client', c);
    expect(c.closedCount).toBe(1);
  });
});

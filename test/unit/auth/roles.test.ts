import { EventEmitter } from 'node:events';
import type { Aedes, Client } from 'aedes';
import { describe, expect, it } from 'vitest';
import { canPublish, canSubscribe, type Principal } from '../../../gateway/auth/acl.js';
import { DeviceAuth } from '../../../gateway/auth/device-auth.js';
import { hashSecret } from '../../../gateway/auth/password.js';
import { applyEdit } from '../../../gateway/auth/registry-file.js';
import { diffRegistries, DeviceRegistry, parseDevices, type DeviceRecord } from '../../../gateway/auth/registry.js';
import { createLogger } from '../../../gateway/log.js';
import { createMetrics } from '../../../gateway/metrics.js';

const H1 = '$scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const reader: Principal = { kind: 'reader', id: 'dash', via: 'password' };

function ok(text: string): ReadonlyMap<string, DeviceRecord> {
  const r = parseDevices(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.devices;
}

describe('reader ACL', () => {
  it.each([
    ['devices/#', true],
    ['devices/+/sensors/#', true],
    ['devices/gh-1/telemetry', true],
    ['alerts/#', true],
    ['alerts/+/temperature/+', true],
    ['alerts', true],
    ['#', false],
    ['+/gh-1/#', false],
    ['$SYS/#', false],
    ['alertsx/#', false],
    ['devicesgh/#', false],
    ['$share/dash/alerts/#', false],
    ['$share/dash/#', false],
    ['spBv1.0/#', true],
    ['spBv1.0/plant-1/+/edge-1/#', true],
    ['spBv1.0/STATE/#', true],
    ['spBv1.0x/#', false],
    ['$share/dash/spBv1.0/#', false],
  ])('subscribing to %s: %s', (filter, allowed) => {
    expect(canSubscribe(reader, filter).ok).toBe(allowed);
  });

  it('says why a shared subscription is refused', () => {
    expect(canSubscribe(reader, '$share/g/alerts/#')).toEqual({
      ok: false,
      reason: 'subscribe_denied',
      detail: 'shared subscriptions ($share/...) are not supported by this broker',
    });
  });

  it.each([
    'devices/dash/telemetry',
    'devices/gh-1/telemetry',
    'alerts/gh-1/t/hot',
    'spBv1.0/plant-1/NDATA/dash',
    'spBv1.0/plant-1/NCMD/edge-1',
    'spBv1.0/STATE/gateway-1',
    'other',
  ])('publishes nothing, not even on %s', (topic) => {
    expect(canPublish(reader, topic)).toEqual({ ok: false, reason: 'publish_denied', detail: 'readers publish nothing' });
  });
});

describe('roles in the registry file', () => {
  it('reads `role: reader`, leaves devices as they were, and refuses an unknown role with its path', () => {
    const d = ok(`devices:\n  - { id: dash, role: reader, passwordHash: "${H1}" }\n  - { id: gh-1, role: device }\n  - { id: gh-2 }\n`);
    expect(d.get('dash')).toEqual({ id: 'dash', role: 'reader', passwordHash: H1, tags: undefined });
    expect(d.get('gh-1')).toEqual({ id: 'gh-1', passwordHash: undefined, tags: undefined });
    expect(d.get('gh-2')).toEqual({ id: 'gh-2', passwordHash: undefined, tags: undefined });
    const bad = parseDevices('devices:\n  - { id: x, role: admin }\n');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.errors[0]!.path).toBe('devices[0].role');
  });

  it('the CLI edit writes `role` only for readers', () => {
    const out = applyEdit(undefined, { op: 'add', id: 'dash', passwordHash: H1, role: 'reader' });
    expect(out).toContain('- id: dash\n    role: reader\n');
    expect(applyEdit(undefined, { op: 'add', id: 'gh-1', passwordHash: H1, role: 'device' })).not.toContain('role');
  });

  it('a role change closes the connections of that entry (reported as removed)', () => {
    const before = ok(`devices:\n  - { id: dash, role: reader }\n  - { id: gh-1 }\n`);
    const after = ok(`devices:\n  - { id: dash }\n  - { id: gh-1, role: device }\n`);
    expect(diffRegistries(before, after)).toEqual({ added: [], removed: ['dash'], rotated: [] });
  });
});

describe('DeviceAuth with readers', () => {
  it('authenticates a reader as a reader (also under anonymous: deny) and closes it when its role changes', async () => {
    const hash = await hashSecret('s3cret', { ln: 10, r: 8, p: 1 });
    const registry = new DeviceRegistry(ok(`devices:\n  - { id: dash, role: reader, passwordHash: "${hash}" }\n`));
    const auth = new DeviceAuth({ registry, anonymous: 'deny', metrics: createMetrics(), log: createLogger('silent'), sleep: async () => undefined });
    const broker = Object.assign(new EventEmitter(), { clients: {} as Record<string, Client> }) as unknown as Aedes & { clients: Record<string, Client> };
    auth.attach(broker);
    let closes = 0;
    const client = Object.assign(new EventEmitter(), { id: 'dash-1', conn: { remoteAddress: '10.0.0.9' }, close: () => void closes++ }) as unknown as Client;
    const accepted = await new Promise<boolean | null>((resolve) => auth.authenticate(client, 'dash', Buffer.from('s3cret'), (_err, ok) => resolve(ok)));
    expect(accepted).toBe(true);
    expect(auth.principalOf(client)).toEqual({ kind: 'reader', id: 'dash', via: 'password' });
    broker.clients['dash-1'] = client;
    expect(auth.authorizePublish(client, { topic: 'devices/dash/telemetry' } as never)?.message).toBe('publish refused: readers publish nothing');
    expect(auth.applyChange(registry.replace(ok(`devices:\n  - { id: dash, passwordHash: "${hash}" }\n`)))).toBe(1);
    expect(closes).toBe(1);
  });
});

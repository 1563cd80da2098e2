import { describe, expect, it } from 'vitest';
import { canPublish, canSubscribe, isWithin, type Principal } from '../../../gateway/auth/acl.js';

const dev: Principal = { kind: 'device', id: 'gh-1', via: 'password' };
const anon: Principal = { kind: 'anonymous' };

describe('publish ACL', () => {
  it.each([
    ['devices/gh-1/telemetry', true],
    ['devices/gh-1/sensors/temperature', true],
    ['devices/gh-1/status', true],
    ['devices/gh-1/', false],
    ['devices/gh-1', false],
    ['devices/gh-10/telemetry', false],
    ['devices/gh-/telemetry', false],
    ['devices/gh-2/telemetry', false],
    ['devices/gh-1x/telemetry', false],
    ['alerts/gh-1/high', false],
    ['devicesgh-1/telemetry', false],
    ['other/devices/gh-1/telemetry', false],
  ])('a device publishing on %s: %s', (topic, ok) => {
    expect(canPublish(dev, topic).ok).toBe(ok);
  });

  it.each([
    ['devices/gh-1/telemetry', true],
    ['devices/any-device/sensors/x', true],
    ['devices/', false],
    ['alerts/gh-1/high', false],
    ['$SYS/x', false],
    ['other', false],
  ])('an anonymous client publishing on %s: %s', (topic, ok) => {
    expect(canPublish(anon, topic).ok).toBe(ok);
  });

  it('says why a publish is refused', () => {
    expect(canPublish(dev, 'devices/gh-2/telemetry')).toEqual({
      ok: false,
      reason: 'publish_denied',
      detail: 'device may publish only below devices/gh-1/ and as Sparkplug edge node gh-1',
    });
  });
});

describe('Sparkplug B ACL (an edge node is the device of the same id)', () => {
  it.each([
    ['spBv1.0/plant1/NBIRTH/gh-1', true],
    ['spBv1.0/plant2/NDATA/gh-1', true],
    ['spBv1.0/plant1/NDEATH/gh-1', true],
    ['spBv1.0/plant1/DBIRTH/gh-1/press-4', true],
    ['spBv1.0/plant1/DDATA/gh-1/press-4', true],
    ['spBv1.0/plant1/DDEATH/gh-1/press-4', true],
    ['spBv1.0/plant1/NDATA/gh-2', false],
    ['spBv1.0/plant1/DDATA/gh-2/press-4', false],
    ['spBv1.0/plant1/NDATA/gh-1/extra', false],
    ['spBv1.0/plant1/DDATA/gh-1', false],
    ['spBv1.0/plant1/NCMD/gh-1', false],
    ['spBv1.0/STATE/gh-1', false],
  ])('a device publishing on %s: %s', (topic, ok) => {
    expect(canPublish(dev, topic).ok).toBe(ok);
  });

  it.each([
    ['spBv1.0/plant1/NCMD/gh-1', true],
    ['spBv1.0/+/NCMD/gh-1', true],
    ['spBv1.0/plant1/NCMD/gh-1/#', true], // Eclipse Tahu's filter: `#` matches its parent level [MQTT-4.7.1-2]
    ['spBv1.0/plant1/NCMD/gh-1/+', false],
    ['spBv1.0/plant1/NCMD/gh-1/x', false],
    ['spBv1.0/plant1/NCMD/gh-2/#', false],
    ['spBv1.0/plant1/DCMD/gh-1/#', true],
    ['spBv1.0/+/DCMD/gh-1/+', true],
    ['spBv1.0/STATE/#', true],
    ['spBv1.0/STATE/host-a', true],
    ['spBv1.0/+/NCMD/+', false],
    ['spBv1.0/+/NCMD/gh-2', false],
    ['spBv1.0/#', false],
    ['spBv1.0/+/NDATA/gh-1', false],
    ['spBv1.0/#/NCMD/gh-1', false],
  ])('a device subscribing to %s: %s', (filter, ok) => {
    expect(canSubscribe(dev, filter).ok).toBe(ok);
  });

  it('anonymous clients act for any edge node and may watch the namespace', () => {
    expect(canPublish(anon, 'spBv1.0/g/DDATA/any-edge/dev').ok).toBe(true);
    expect(canPublish(anon, 'spBv1.0/g/NCMD/any-edge').ok).toBe(false);
    expect(canPublish(anon, 'spBv1.0/STATE/host').ok).toBe(false);
    expect(canSubscribe(anon, 'spBv1.0/#').ok).toBe(true);
  });
});

describe('subscribe ACL', () => {
  it.each([
    ['devices/gh-1/#', true],
    ['devices/gh-1', true],
    ['devices/gh-1/+', true],
    ['devices/gh-1/config/+/x', true],
    ['alerts/gh-1/#', true],
    ['alerts/gh-1/temperature-high', true],
    ['devices/+/telemetry', false],
    ['devices/#', false],
    ['#', false],
    ['+/gh-1/#', false],
    ['alerts/+/#', false],
    ['devices/gh-10/#', false],
    ['devices/gh-1x', false],
    ['$SYS/#', false],
    ['$share/g/devices/gh-1/#', false],
  ])('a device subscribing to %s: %s', (filter, ok) => {
    expect(canSubscribe(dev, filter).ok).toBe(ok);
  });

  it.each([
    ['devices/#', true],
    ['devices/+/telemetry', true],
    ['alerts/#', true],
    ['alerts/gh-1/x', true],
    ['#', false],
    ['+/#', false],
    ['$SYS/#', false],
    ['devicesx/#', false],
  ])('an anonymous client subscribing to %s: %s', (filter, ok) => {
    expect(canSubscribe(anon, filter).ok).toBe(ok);
  });

  it('isWithin compares whole levels', () => {
    expect(isWithin('a/b/c', 'a/b')).toBe(true);
    expect(isWithin('a/b', 'a/b')).toBe(true);
    expect(isWithin('a/bc', 'a/b')).toBe(false);
    expect(isWithin('a/+', 'a/b')).toBe(false);
  });
});

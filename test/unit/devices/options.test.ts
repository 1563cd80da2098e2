import { describe, expect, it } from 'vitest';
import { fleetOptionsFrom, readCredentials, type SimulateArgs } from '../../../devices/sim/options.js';

const defaults: SimulateArgs = {
  url: 'mqtt://127.0.0.1:1883',
  idPrefix: 'sim-',
  sensors: 'temperature,humidity',
  rate: '1',
  qos: '0',
  seed: '1',
  duplicates: '0',
  reorder: '0',
  late: '0',
  lateBy: '15s',
  clockSkew: '0ms',
};

describe('simulator options', () => {
  it('turns the command line into fleet options with durations in ms', () => {
    const { fleet, durationMs } = fleetOptionsFrom({
      ...defaults,
      devices: '3',
      qos: '1',
      duration: '30s',
      offlineEvery: '5m',
      offlineFor: '30s',
      clockSkew: '2s',
      duplicates: '0.05',
      burst: true,
    });
    expect(fleet.devices.map((d) => d.id)).toEqual(['sim-0001', 'sim-0002', 'sim-0003']);
    expect(fleet).toMatchObject({ sensors: ['temperature', 'humidity'], rate: 1, qos: 1, clockSkewMs: 2000, burst: true });
    expect(fleet.faults).toMatchObject({ duplicates: 0.05, offlineEveryMs: 300_000, offlineForMs: 30_000, lateByMs: 15_000 });
    expect(durationMs).toBe(30_000);
  });

  it('takes devices and secrets from the lines `devices add` prints, or one device from --username', () => {
    const file = 'added gh-1\n{"id":"gh-1","password":"p1"}\n{"id":"gh-2","password":"p2"}\n';
    expect(readCredentials(file)).toEqual([
      { id: 'gh-1', password: 'p1' },
      { id: 'gh-2', password: 'p2' },
    ]);
    expect(readCredentials('[{"id":"a"}]')).toEqual([{ id: 'a' }]);
    const { fleet } = fleetOptionsFrom({ ...defaults, credentials: 'creds', devices: '1' }, () => file);
    expect(fleet.devices).toEqual([{ id: 'gh-1', password: 'p1' }]);
    expect(fleetOptionsFrom({ ...defaults, username: 'gh-9', password: 's' }).fleet.devices).toEqual([{ id: 'gh-9', password: 's' }]);
  });

  it.each<[Partial<SimulateArgs>, RegExp]>([
    [{ devices: '0' }, /--devices/],
    [{ devices: '1.5' }, /--devices/],
    [{ rate: 'fast' }, /--rate/],
    [{ qos: '2' }, /--qos/],
    [{ duplicates: '1.5' }, /--duplicates/],
    [{ duration: 'soon' }, /--duration/],
    [{ offlineEvery: '5m' }, /go together/],
    [{ offlineEvery: '30s', offlineFor: '1m' }, /shorter/],
    [{ sensors: 'a b' }, /--sensors/],
    [{ sensors: ',' }, /at least one/],
    [{ username: 'x', devices: '2' }, /one device/],
    [{ idPrefix: 'bad/' }, /--id-prefix/],
  ])('refuses %o', (args, message) => {
    expect(() => fleetOptionsFrom({ ...defaults, ...args })).toThrow(message);
  });
});

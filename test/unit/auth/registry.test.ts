import { describe, expect, it } from 'vitest';
import { DeviceRegistry, diffRegistries, parseDevices, type DeviceRecord } from '../../../gateway/auth/registry.js';
import { applyEdit, RegistryEditError } from '../../../gateway/auth/registry-file.js';

const H1 = '$scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const H2 = '$scrypt$ln=14,r=8,p=1$BBBBBBBBBBBBBBBBBBBBBB$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

function ok(text: string): ReadonlyMap<string, DeviceRecord> {
  const r = parseDevices(text);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.devices;
}

function errors(text: string): string[] {
  const r = parseDevices(text);
  if (r.ok) throw new Error('expected errors');
  return r.errors.map((e) => `${e.line ?? '-'}:${e.column ?? '-'} ${e.path}: ${e.message}`);
}

describe('devices file parsing', () => {
  it('reads devices with hashes and tags (numbers and booleans as tag strings), frozen', () => {
    const devices = ok(`devices:\n  - id: gh-1\n    passwordHash: ${H1}\n    tags: { site: north, floor: 2, outdoor: false }\n  - id: cam.7\n`);
    expect([...devices.keys()]).toEqual(['gh-1', 'cam.7']);
    expect(devices.get('gh-1')).toEqual({ id: 'gh-1', passwordHash: H1, tags: { site: 'north', floor: '2', outdoor: 'false' } });
    expect(devices.get('cam.7')).toEqual({ id: 'cam.7', passwordHash: undefined, tags: undefined });
    expect(Object.isFrozen(devices.get('gh-1'))).toBe(true);
    expect(Object.isFrozen(devices.get('gh-1')!.tags)).toBe(true);
  });

  it('reads an empty file, `devices:` without entries, and [] as an empty registry', () => {
    expect(ok('').size).toBe(0);
    expect(ok('# nothing yet\n').size).toBe(0);
    expect(ok('devices:\n').size).toBe(0);
    expect(ok('devices: []\n').size).toBe(0);
  });

  it('reports every problem with its path and position', () => {
    const text = [
      'devices:',
      '  - id: gh-1',
      '    passwordHash: plaintext',
      '  - id: "bad id"',
      '  - id: gh-1',
      '    tags: { device: x, "a b": y, room: "" }',
      '  - id: gh-3',
      '    pasword: x',
      'extra: 1',
    ].join('\n');
    expect(errors(text)).toEqual([
      '3:19 devices[0].passwordHash: not a scrypt hash ($scrypt$ln=..,r=..,p=..$salt$hash); create it with `npm run devices -- add`',
      '4:9 devices[1].id: must match ^[A-Za-z0-9_.-]{1,64}$',
      '6:40 devices[2].tags.room: tag value must be 1-256 characters, without control characters, backslashes or edge spaces',
      '6:21 devices[2].tags.device: tag key is reserved: the gateway writes device, sensor, gateway, time, mean, min, max, first, last, count, revision itself',
      '6:31 devices[2].tags.a b: tag key must match ^[A-Za-z_][A-Za-z0-9_.-]{0,63}$',
      '8:5 devices[3].pasword: unknown key',
      '9:1 extra: unknown key',
      '5:9 devices[2].id: duplicate id "gh-1" (first at devices[0])',
    ]);
  });

  it('reports YAML syntax errors with line and column', () => {
    const e = errors('devices:\n  - id: a\n   - id: b\n');
    expect(e[0]).toMatch(/^3:\d+ \(file\): /);
  });

  it('refuses a list at the top level and a mapping instead of a list', () => {
    expect(errors('- id: a\n')[0]).toMatch(/^1:1 \(file\): /);
    expect(errors('devices: { id: a }\n')[0]).toMatch(/devices: /);
  });
});

describe('devices file within the YAML limits', () => {
  it('reads 101 devices that share one anchored tag map', () => {
    const text =
      'devices:\n  - { id: d0, tags: &t { site: north } }\n' + Array.from({ length: 100 }, (_, i) => `  - { id: d${i + 1}, tags: *t }`).join('\n') + '\n';
    const r = parseDevices(text);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.devices.size).toBe(101);
      expect([...r.devices.values()].every((d) => d.tags?.['site'] === 'north')).toBe(true);
    }
  });

  it('refuses an alias bomb and deep nesting with a located error instead of throwing', () => {
    const bomb = parseDevices(
      'devices:\n  - { id: d0, tags: &t { site: north } }\n' + Array.from({ length: 1000 }, (_, i) => `  - { id: d${i + 1}, tags: *t }`).join('\n') + '\n',
    );
    expect(bomb.ok).toBe(false);
    if (!bomb.ok) expect(bomb.errors[0]).toMatchObject({ path: '(file)', line: 3, message: expect.stringContaining('maxAliasCount') });
    const deep = parseDevices('devices: ' + '{a: '.repeat(3000));
    expect(deep.ok).toBe(false);
    if (!deep.ok) expect(deep.errors[0]!.message).toContain('maxDepth');
  });
});

describe('DeviceRegistry', () => {
  it('looks up devices and tags and swaps the whole map on replace, reporting what changed', () => {
    const reg = new DeviceRegistry(
      ok(`devices:\n  - { id: a, passwordHash: "${H1}", tags: { site: n } }\n  - { id: b, passwordHash: "${H1}" }\n  - { id: c }\n`),
    );
    expect(reg.tagsOf('a')).toEqual({ site: 'n' });
    expect(reg.tagsOf('b')).toBeUndefined();
    expect(reg.tagsOf('zz')).toBeUndefined();
    const change = reg.replace(ok(`devices:\n  - { id: a, passwordHash: "${H2}", tags: { site: s } }\n  - { id: c, tags: { x: y } }\n  - { id: d }\n`));
    expect(change).toEqual({ added: ['d'], removed: ['b'], rotated: ['a'] });
    expect(reg.tagsOf('a')).toEqual({ site: 's' });
    expect(reg.get('b')).toBeUndefined();
    expect(reg.size).toBe(3);
  });

  it('counts a password added to or taken from a device as a rotation', () => {
    const before = ok(`devices:\n  - { id: a }\n  - { id: b, passwordHash: "${H1}" }\n`);
    const after = ok(`devices:\n  - { id: a, passwordHash: "${H1}" }\n  - { id: b }\n`);
    expect(diffRegistries(before, after)).toEqual({ added: [], removed: [], rotated: ['a', 'b'] });
  });
});

describe('registry edits (CLI)', () => {
  const withComments = `# my devices\ndevices:\n  # the greenhouse\n  - id: gh-1 # first one\n    passwordHash: ${H1}\n`;

  it('adds a device, keeping comments', () => {
    const out = applyEdit(withComments, { op: 'add', id: 'gh-2', passwordHash: H2, tags: { site: 'north' } });
    expect(out).toContain('# my devices');
    expect(out).toContain('# the greenhouse');
    expect(out).toContain('# first one');
    const devices = ok(out);
    expect(devices.get('gh-2')).toEqual({ id: 'gh-2', passwordHash: H2, tags: { site: 'north' } });
    expect(devices.get('gh-1')?.passwordHash).toBe(H1);
  });

  it('creates the file content when there is none, and fills `devices: []`', () => {
    expect([...ok(applyEdit(undefined, { op: 'add', id: 'a', passwordHash: H1 })).keys()]).toEqual(['a']);
    expect([...ok(applyEdit('devices: []\n', { op: 'add', id: 'a', passwordHash: H1 })).keys()]).toEqual(['a']);
    expect([...ok(applyEdit('', { op: 'add', id: 'a', passwordHash: H1 })).keys()]).toEqual(['a']);
  });

  it('rotates and removes', () => {
    const rotated = applyEdit(withComments, { op: 'rotate', id: 'gh-1', passwordHash: H2 });
    expect(ok(rotated).get('gh-1')?.passwordHash).toBe(H2);
    expect(ok(applyEdit(rotated, { op: 'remove', id: 'gh-1' })).size).toBe(0);
  });

  it('refuses duplicates, unknown ids, invalid tags and edits of an invalid file', () => {
    expect(() => applyEdit(withComments, { op: 'add', id: 'gh-1', passwordHash: H2 })).toThrow(/already exists/);
    expect(() => applyEdit(withComments, { op: 'remove', id: 'nope' })).toThrow(/no device "nope"/);
    expect(() => applyEdit(withComments, { op: 'rotate', id: 'nope', passwordHash: H2 })).toThrow(/no device "nope"/);
    try {
      applyEdit(withComments, { op: 'add', id: 'x', passwordHash: H2, tags: { sensor: 'a' } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(RegistryEditError);
      expect((err as RegistryEditError).errors).toEqual([{ path: 'devices[1].tags.sensor', message: expect.stringMatching(/reserved/) }]);
    }
    expect(() => applyEdit('devices: 3\n', { op: 'add', id: 'x', passwordHash: H1 })).toThrow(/invalid; fix it first/);
    // A file over the YAML limits is refused the same way, before the document model (which recurses) is built.
    for (const text of ['devices: ' + '['.repeat(20_000), 'devices: ' + '[{a: '.repeat(5000)]) {
      expect(() => applyEdit(text, { op: 'add', id: 'x', passwordHash: H1 }), text.slice(0, 20)).toThrow(RegistryEditError);
    }
  });
});

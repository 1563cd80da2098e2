import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDevices } from '../../../gateway/auth/registry.js';
import { validateConfig } from '../../../gateway/config/load.js';
import { parseYaml } from '../../../gateway/config/load.js';

/** The shipped registry and the YAML snippets of docs/devices.md must parse, so the documentation cannot drift. */
function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('shipped device files', () => {
  it('config/devices.yaml is a valid, empty registry', () => {
    const r = parseDevices(readFileSync('config/devices.yaml', 'utf8'));
    expect(r.ok && r.devices.size).toBe(0);
  });

  it('the YAML snippets of docs/devices.md are a valid registry and a valid gateway config', () => {
    const blocks = yamlBlocks(readFileSync('docs/devices.md', 'utf8'));
    const registry = blocks.filter((b) => b.startsWith('devices:'));
    const config = blocks.filter((b) => !b.startsWith('devices:'));
    expect(registry).toHaveLength(1);
    expect(config).toHaveLength(1);
    const r = parseDevices(registry[0]!);
    expect(r.ok ? [...r.devices.values()].map((d) => [d.id, d.tags]) : r.errors).toEqual([
      ['gh-1', { site: 'north', room: 'greenhouse-2' }],
      ['cam-7', { site: 'south' }],
    ]);
    const c = validateConfig(parseYaml(config[0]!, 'docs/devices.md'), 'docs/devices.md');
    expect(c.mqtt.tls).toMatchObject({ port: 8883, requireClientCert: false });
  });
});

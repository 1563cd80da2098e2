import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseYaml, validateConfig } from '../../../gateway/config/load.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('cluster mode stays apart', () => {
  it('no module outside gateway/cluster/ imports it or a NATS package statically (cluster.enabled false loads none of it)', () => {
    const offenders: string[] = [];
    for (const file of sources('gateway')) {
      if (file.startsWith(join('gateway', 'cluster'))) continue;
      const text = readFileSync(file, 'utf8');
      if (/^\s*import\s[^;]*from\s+['"](\.\.?\/)+(gateway\/)?cluster\//m.test(text) || /from\s+['"]@nats-io\//.test(text)) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });

  it('cluster config: defaults off, nodeId required when on, one way to authenticate', () => {
    const off = validateConfig({}, 'test');
    expect(off.cluster).toMatchObject({
      enabled: false,
      partitions: 64,
      replicas: 3,
      leaseTtl: 10_000,
      idleGrace: 2_000,
      nats: { servers: ['nats://127.0.0.1:4222'] },
    });
    expect(() => validateConfig({ cluster: { enabled: true } }, 'test')).toThrow(/cluster\.nodeId/);
    expect(() => validateConfig({ cluster: { enabled: true, nodeId: 'a', nats: { token: 'x', creds: '/c' } } }, 'test')).toThrow(
      /one of user\/password, token or creds/,
    );
    expect(() => validateConfig({ cluster: { enabled: true, nodeId: 'a', nats: { user: 'u' } } }, 'test')).toThrow(/password/);
    expect(validateConfig({ cluster: { enabled: true, nodeId: 'gw-a', leaseTtl: '3s', partitions: 8 } }, 'test').cluster).toMatchObject({
      nodeId: 'gw-a',
      leaseTtl: 3000,
      partitions: 8,
    });
    // Sparkplug B is not worked by a cluster: a node must not announce itself as the primary host.
    // The cluster is one logical primary host (docs/cluster.md, "Sparkplug B"): the same hostId on every node.
    expect(validateConfig({ cluster: { enabled: true, nodeId: 'a' }, sparkplug: { hostId: 'h' } }, 'test').sparkplug.hostId).toBe('h');
    expect(validateConfig({ sparkplug: { hostId: 'h' } }, 'test').sparkplug.hostId).toBe('h');
  });

  it('accepts the gateway snippet of docs/cluster.md', () => {
    const snippet = /```yaml\n([\s\S]*?)```/.exec(readFileSync('docs/cluster.md', 'utf8'))![1]!;
    expect(validateConfig(parseYaml(snippet, 'docs'), 'docs').cluster).toMatchObject({
      enabled: true,
      nodeId: 'gw-1',
      partitions: 64,
      replicas: 3,
      leaseTtl: 10_000,
      nats: { servers: ['nats://nats-1:4222', 'nats://nats-2:4222', 'nats://nats-3:4222'], user: 'gateway', password: 'secret' },
    });
  });
});

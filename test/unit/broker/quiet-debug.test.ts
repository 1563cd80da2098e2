import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function parseInChild(env: NodeJS.ProcessEnv): { stdout: string; stderr: string; status: number | null } {
  const { DEBUG: _unset, ...rest } = process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/support/quiet-debug-child.ts'], {
    env: { ...rest, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

describe("mqtt-packet's debug() calls on the thread that parses MQTT", () => {
  it('with DEBUG unset they do nothing, even when a namespace is enabled later, and packets parse as before', () => {
    const r = parseInChild({});
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('sensors/a/telemetry');
    expect(r.stderr).not.toContain('mqtt-packet');
  });

  it('with DEBUG set, debug loads as usual and prints the parser', () => {
    const r = parseInChild({ DEBUG: 'mqtt-packet:*' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('sensors/a/telemetry');
    expect(r.stderr).toContain('mqtt-packet:parser');
  });
});

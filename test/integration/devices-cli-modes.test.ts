import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../gateway/auth/password.js';
import { devicesCli } from '../support/devices-cli.js';

/** The devices CLI run as a child process: devices.yaml holds password hashes, so every edit leaves it 0600. */
describe('devices CLI: the file holds password hashes, so it stays owner-only', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gw-devmode-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const modeOf = (f: string) => (statSync(f).mode & 0o777).toString(8);

  it('add on an existing file of mode 0644 with hashes: tightened to 0600, and said on stderr', async () => {
    const file = join(dir, 'devices.yaml');
    writeFileSync(file, `devices:\n  - id: old\n    passwordHash: ${JSON.stringify(await hashSecret('old-secret-0123456789'))}\n`);
    chmodSync(file, 0o644);
    const r = devicesCli(file, 'add', 'newer');
    expect(r.status, r.stderr).toBe(0);
    expect(modeOf(file)).toBe('600');
    expect(r.stderr).toContain(`${file} was mode 0644 (readable by others) and holds password hashes: it is now 0600, owner-only`);
    expect(readFileSync(file, 'utf8')).toMatch(/id: old[\s\S]*id: newer/);
    // Already owner-only: nothing to say.
    const again = devicesCli(file, 'rotate', 'old');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('readable by others');
    expect(modeOf(file)).toBe('600');
  });

  it('a new file is created 0600', () => {
    const file = join(dir, 'fresh', 'devices.yaml');
    const r = devicesCli(file, 'add', 'first');
    expect(r.status, r.stderr).toBe(0);
    expect(modeOf(file)).toBe('600');
    expect(r.stderr).not.toContain('readable by others');
  });
});

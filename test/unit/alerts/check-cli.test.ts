import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'alerts-cli-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'gateway/alerts/check-cli.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, GATEWAY_CONFIG: '', ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('thresholds check', () => {
  it('exits 0 with a one-line summary for a valid file', () => {
    const f = join(dir, 'ok.yaml');
    writeFileSync(f, 'rules:\n  - { name: a, above: 1 }\n  - { name: b, noData: 90s }\n');
    const r = cli(['check', f]);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([`${f}: OK, 2 rules (1 threshold, 1 noData, shortest noData 90s)`]);
  });

  it('exits 1 and prints every error as file:line:column: path: message', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'rules:\n  - name: a\n    abov: 1\n  - name: a\n    above: x\n');
    const r = cli(['check', f]);
    expect(r.status).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${f}:2:5: rules[0]: a rule needs at least one of above, below or noData`,
      `${f}:3:5: rules[0].abov: unknown key`,
      `${f}:4:11: rules[1].name: duplicate rule name "a" (first used by rules[0])`,
      `${f}:5:12: rules[1].above: Invalid input: expected number, received string`,
      `${f}: 4 problems`,
    ]);
  });

  it('defaults to alerts.rulesFile of the config named by GATEWAY_CONFIG', () => {
    const rules = join(dir, 'from-config.yaml');
    writeFileSync(rules, 'rules: []\n');
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, `alerts:\n  rulesFile: ${JSON.stringify(rules)}\n`);
    const r = cli(['check'], { GATEWAY_CONFIG: config });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${rules}: OK, 0 rules`);
  });

  it('exits 2 when the gateway config itself is invalid, and 1 for a missing rules file', () => {
    const config = join(dir, 'broken.yaml');
    writeFileSync(config, 'alerts:\n  rulesFiel: x\n');
    const r = cli(['check'], { GATEWAY_CONFIG: config });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('rulesFiel');
    const missing = cli(['check', join(dir, 'missing.yaml')]);
    expect(missing.status).toBe(1);
    expect(missing.stdout).toContain('cannot read');
  });

  it('checks the shipped default file from the repository root', () => {
    const r = cli(['check', 'config/thresholds.yaml']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^config\/thresholds\.yaml: OK, \d+ rules/);
  });
});

import { spawnSync } from 'node:child_process';

/** Runs the devices CLI as an operator would (tsx instead of the compiled dist/ build). */
export function devicesCli(file: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'devices/cli.ts', '--file', file, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

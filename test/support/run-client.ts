import { spawn } from 'node:child_process';

/** Debian's MQTT command-line clients (mosquitto-clients; test/support/global-setup.ts checks they are there). */
export const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
export const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub';

/**
 * Runs a client someone else wrote (mosquitto_pub, a Paho script) to its end: resolves with its exit code and its
 * stdout + stderr. Killed after 30 s, so a client that hangs fails its test instead of the run.
 */
export function runClient(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

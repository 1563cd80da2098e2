import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { INFLUXD } from './influxd.js';

/**
 * vitest globalSetup: the integration tests need a real `influxd` (InfluxDB 1.x). Install it when we can
 * (root on Debian with apt-get), otherwise fail loudly: a missing server must never turn into skipped tests.
 */
export default function setup(): void {
  if (existsSync(INFLUXD)) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = existsSync('/usr/bin/apt-get') && existsSync('/etc/debian_version');
  if (isRoot && hasApt) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['update'], { env, stdio: 'inherit' });
      execFileSync('apt-get', ['install', '-y', 'influxdb'], { env, stdio: 'inherit' });
    } catch (err) {
      throw new Error(`installing influxdb with apt-get failed: ${(err as Error).message}`);
    }
    if (existsSync(INFLUXD)) return;
  }
  throw new Error(
    `${INFLUXD} not found: the integration tests need InfluxDB 1.x. Install it with \`sudo apt-get install influxdb\` ` +
      '(or set INFLUXD_BIN to an influxd 1.x binary).',
  );
}

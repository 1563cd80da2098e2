import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { INFLUXD } from './influxd.js';

/** A program the tests drive, and the Debian package that brings it. */
interface SystemPart {
  readonly what: string;
  readonly path: string;
  readonly pkg: string;
}

/**
 * The real servers and third-party clients the suite runs against: InfluxDB 1.x, Chromium for the operator page,
 * mosquitto's and Paho's MQTT clients, and nats-server for the cluster.
 */
const PARTS: readonly SystemPart[] = [
  { what: 'InfluxDB 1.x (or set INFLUXD_BIN)', path: INFLUXD, pkg: 'influxdb' },
  { what: 'Chromium (or set CHROMIUM_BIN)', path: process.env['CHROMIUM_BIN'] ?? '/usr/bin/chromium', pkg: 'chromium' },
  { what: 'mosquitto_pub and mosquitto_sub', path: '/usr/bin/mosquitto_pub', pkg: 'mosquitto-clients' },
  { what: "Eclipse Paho for Debian's python3", path: '/usr/lib/python3/dist-packages/paho/mqtt/client.py', pkg: 'python3-paho-mqtt' },
  { what: 'nats-server', path: '/usr/sbin/nats-server', pkg: 'nats-server' },
];

/**
 * vitest globalSetup: install what is missing when we can (root on Debian with apt-get), otherwise fail loudly
 * naming the command: a missing server must never turn into skipped tests.
 */
export default function setup(): void {
  const missing = PARTS.filter((p) => !existsSync(p.path));
  if (missing.length === 0) return;
  const pkgs = missing.map((p) => p.pkg);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = existsSync('/usr/bin/apt-get') && existsSync('/etc/debian_version');
  if (isRoot && hasApt) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['update'], { env, stdio: 'inherit' });
      execFileSync('apt-get', ['install', '-y', ...pkgs], { env, stdio: 'inherit' });
    } catch (err) {
      throw new Error(`installing ${pkgs.join(' ')} with apt-get failed: ${(err as Error).message}`, { cause: err });
    }
    if (missing.every((p) => existsSync(p.path))) return;
  }
  throw new Error(`the tests need ${missing.map((p) => `${p.what} (${p.path})`).join(', ')}: install with \`sudo apt-get install ${pkgs.join(' ')}\``);
}

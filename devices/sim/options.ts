import { readFileSync } from 'node:fs';
import { parseDuration } from '../../gateway/config/units.js';
import { ID_PATTERN } from '../../gateway/wire/topics.js';
import type { DeviceCredential, FleetOptions } from './fleet.js';

/** The simulator's command-line options as commander hands them over (all strings, flags as booleans). */
export interface SimulateArgs {
  readonly url: string;
  readonly devices?: string;
  readonly idPrefix: string;
  readonly credentials?: string;
  readonly username?: string;
  readonly password?: string;
  readonly sensors: string;
  readonly rate: string;
  readonly qos: string;
  readonly duration?: string;
  readonly seed: string;
  readonly duplicates: string;
  readonly reorder: string;
  readonly late: string;
  readonly lateBy: string;
  readonly offlineEvery?: string;
  readonly offlineFor?: string;
  readonly clockSkew: string;
  readonly burst?: boolean;
  readonly ca?: string;
  readonly insecure?: boolean;
  /** Sparkplug B edge nodes instead of JSON telemetry; the value is the group id (`--sparkplug` alone: `sim`). */
  readonly sparkplug?: string | boolean;
}

export class UsageError extends Error {}

function num(name: string, text: string, min: number, max = Infinity): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || v < min || v > max)
    throw new UsageError(`--${name}: expected a number in [${min}, ${max}], got ${JSON.stringify(text)}`);
  return v;
}

function ms(name: string, text: string): number {
  const v = parseDuration(text);
  if (v === undefined) throw new UsageError(`--${name}: expected a duration like 500ms, 30s, 5m, got ${JSON.stringify(text)}`);
  return v;
}

/** Reads `{"id","password"}` objects, one per line (what `devices add` prints) or as one JSON array. */
export function readCredentials(text: string): DeviceCredential[] {
  const trimmed = text.trim();
  const items: unknown[] = trimmed.startsWith('[')
    ? (JSON.parse(trimmed) as unknown[])
    : trimmed
        .split('\n')
        .filter((l) => l.trim().startsWith('{'))
        .map((l) => JSON.parse(l) as unknown);
  return items.map((item, i) => {
    const o = item as { id?: unknown; password?: unknown };
    if (typeof o.id !== 'string' || !ID_PATTERN.test(o.id)) throw new UsageError(`credentials entry ${i + 1}: "id" must match ${ID_PATTERN.source}`);
    if (o.password !== undefined && typeof o.password !== 'string') throw new UsageError(`credentials entry ${i + 1}: "password" must be a string`);
    return o.password === undefined ? { id: o.id } : { id: o.id, password: o.password };
  });
}

function sparkplugGroup(v: string | true): string {
  if (v === true) return 'sim';
  if (!/^[^/+#]{1,64}$/.test(v)) throw new UsageError(`--sparkplug: a group id of 1-64 characters without / + #, got ${JSON.stringify(v)}`);
  return v;
}

/** Validated fleet options plus the run duration, from the command line. Throws UsageError with the flag's name. */
export function fleetOptionsFrom(
  args: SimulateArgs,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): { fleet: FleetOptions; durationMs: number | undefined } {
  let devices: DeviceCredential[];
  const count = args.devices !== undefined ? num('devices', args.devices, 1, 1_000_000) : undefined;
  if (count !== undefined && !Number.isInteger(count)) throw new UsageError('--devices: expected an integer');
  if (args.username !== undefined) {
    if (!ID_PATTERN.test(args.username)) throw new UsageError(`--username: a device id must match ${ID_PATTERN.source}`);
    if (count !== undefined && count !== 1) throw new UsageError('--username simulates that one device: use --credentials for several');
    devices = [{ id: args.username, ...(args.password !== undefined ? { password: args.password } : {}) }];
  } else if (args.credentials !== undefined) {
    const all = readCredentials(readFile(args.credentials));
    if (count !== undefined && count > all.length) throw new UsageError(`--devices ${count}: the credentials file has only ${all.length}`);
    devices = all.slice(0, count ?? all.length);
  } else {
    const n = count ?? 10;
    const width = String(n).length;
    devices = Array.from({ length: n }, (_, i) => ({ id: `${args.idPrefix}${String(i + 1).padStart(Math.max(width, 4), '0')}` }));
    if (!ID_PATTERN.test(devices[devices.length - 1]!.id)) throw new UsageError(`--id-prefix: device ids must match ${ID_PATTERN.source}`);
  }
  const sensors = args.sensors
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (sensors.length === 0) throw new UsageError('--sensors: name at least one sensor');
  for (const s of sensors) if (!ID_PATTERN.test(s)) throw new UsageError(`--sensors: ${JSON.stringify(s)} must match ${ID_PATTERN.source}`);
  const qos = num('qos', args.qos, 0, 1);
  if (qos !== 0 && qos !== 1) throw new UsageError('--qos: 0 or 1');
  if ((args.offlineEvery === undefined) !== (args.offlineFor === undefined)) throw new UsageError('--offline-every and --offline-for go together');
  const offlineEveryMs = args.offlineEvery !== undefined ? ms('offline-every', args.offlineEvery) : 0;
  const offlineForMs = args.offlineFor !== undefined ? ms('offline-for', args.offlineFor) : 0;
  if (offlineForMs >= offlineEveryMs && offlineEveryMs > 0) throw new UsageError('--offline-for must be shorter than --offline-every');
  const clientOptions = {
    ...(args.ca !== undefined ? { ca: readFile(args.ca) } : {}),
    ...(args.insecure ? { rejectUnauthorized: false } : {}),
  };
  return {
    fleet: {
      url: args.url,
      devices,
      sensors,
      rate: num('rate', args.rate, 0.001, 10_000),
      qos,
      seed: num('seed', args.seed, 0),
      clockSkewMs: ms('clock-skew', args.clockSkew),
      burst: args.burst === true,
      faults: {
        duplicates: num('duplicates', args.duplicates, 0, 1),
        reorder: num('reorder', args.reorder, 0, 1),
        late: num('late', args.late, 0, 1),
        lateByMs: ms('late-by', args.lateBy),
        offlineEveryMs,
        offlineForMs,
      },
      clientOptions,
      ...(args.sparkplug !== undefined && args.sparkplug !== false ? { sparkplug: { group: sparkplugGroup(args.sparkplug) } } : {}),
    },
    durationMs: args.duration !== undefined ? ms('duration', args.duration) : undefined,
  };
}

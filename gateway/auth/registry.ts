import { formatLocatedError, formatPath, locate, parseYamlLocated, position, unknownKeyErrors } from '../config/yaml-locate.js';
import { devicesFileSchema } from './registry-schema.js';
import type { Role } from './roles.js';

/** One registered device, as the gateway uses it. Frozen. */
export interface DeviceRecord {
  readonly id: string;
  /** Absent: `device` (roles.ts). */
  readonly role?: Role;
  /** Absent: the device can authenticate only with a TLS client certificate. */
  readonly passwordHash: string | undefined;
  readonly tags: Readonly<Record<string, string>> | undefined;
}

export interface DeviceFileError {
  /** `devices[2].tags.site`, or `(file)`. */
  readonly path: string;
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

export type ParsedDevices =
  { readonly ok: true; readonly devices: ReadonlyMap<string, DeviceRecord> } | { readonly ok: false; readonly errors: readonly DeviceFileError[] };

export { formatPath };

export const formatDeviceFileError: (source: string, e: DeviceFileError) => string = formatLocatedError;

/** Registry text -> frozen records by id, or every problem with its path and position. Never throws. */
export function parseDevices(text: string): ParsedDevices {
  const parsed = parseYamlLocated(text);
  if (!parsed.ok) return { ok: false, errors: parsed.errors.map((e) => ({ path: '(file)', line: e.line, column: e.column, message: e.message })) };
  const { doc, lc, value } = parsed;
  const result = devicesFileSchema.safeParse(value ?? {});
  if (!result.success) {
    return {
      ok: false,
      errors: result.error.issues.flatMap((issue): DeviceFileError[] =>
        issue.code === 'unrecognized_keys'
          ? unknownKeyErrors(doc, lc, issue)
          : [{ path: formatPath(issue.path), ...position(lc, locate(doc, issue.path).node), message: issue.message }],
      ),
    };
  }
  const devices = new Map<string, DeviceRecord>();
  for (const d of result.data.devices ?? []) {
    devices.set(
      d.id,
      Object.freeze({
        id: d.id,
        passwordHash: d.passwordHash,
        tags: d.tags ? Object.freeze({ ...d.tags }) : undefined,
        ...(d.role === 'reader' ? { role: d.role } : {}),
      }),
    );
  }
  return { ok: true, devices };
}

export type RegistryChange = {
  readonly added: readonly string[];
  /** Removed from the file, or given another role (roles.ts): their connections are closed. */
  readonly removed: readonly string[];
  /** Password hash changed (rotate): password-authenticated connections are closed. */
  readonly rotated: readonly string[];
};

/**
 * The devices the gateway currently knows. Reads are plain Map lookups (called per CONNECT and, for tags, per
 * emitted point); `replace` swaps the whole map at once, so a lookup never sees half of a reload.
 */
export class DeviceRegistry {
  private devices: ReadonlyMap<string, DeviceRecord>;

  constructor(devices: ReadonlyMap<string, DeviceRecord> = new Map()) {
    this.devices = devices;
  }

  get(id: string): DeviceRecord | undefined {
    return this.devices.get(id);
  }

  /** Tags to add to this device's InfluxDB points; undefined for unknown devices or devices without tags. */
  tagsOf = (deviceId: string): Readonly<Record<string, string>> | undefined => this.devices.get(deviceId)?.tags;

  get size(): number {
    return this.devices.size;
  }

  ids(): string[] {
    return [...this.devices.keys()];
  }

  replace(next: ReadonlyMap<string, DeviceRecord>): RegistryChange {
    const prev = this.devices;
    this.devices = next;
    return diffRegistries(prev, next);
  }
}

export function diffRegistries(prev: ReadonlyMap<string, DeviceRecord>, next: ReadonlyMap<string, DeviceRecord>): RegistryChange {
  const added: string[] = [];
  const removed: string[] = [];
  const rotated: string[] = [];
  for (const [id, d] of next) {
    const old = prev.get(id);
    if (!old) added.push(id);
    else if ((old.role ?? 'device') !== (d.role ?? 'device')) removed.push(id);
    else if (old.passwordHash !== d.passwordHash) rotated.push(id);
  }
  for (const id of prev.keys()) if (!next.has(id)) removed.push(id);
  return { added, removed, rotated };
}

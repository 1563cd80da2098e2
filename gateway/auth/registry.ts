import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { devicesFileSchema } from './registry-schema.js';

/** One registered device, as the gateway uses it. Frozen. */
export interface DeviceRecord {
  readonly id: string;
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
  | { readonly ok: true; readonly devices: ReadonlyMap<string, DeviceRecord> }
  | { readonly ok: false; readonly errors: readonly DeviceFileError[] };

type Path = ReadonlyArray<PropertyKey>;

export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(file)' : out;
}

export function formatDeviceFileError(source: string, e: DeviceFileError): string {
  return `${e.line !== undefined ? `${source}:${e.line}:${e.column ?? 1}` : source}: ${e.path}: ${e.message}`;
}

/** The node at `path` or its deepest existing ancestor, for the line/column of an error. */
function locate(doc: Document, path: Path): Node | null {
  let node: Node | null = doc.contents;
  for (const seg of path) {
    let next: unknown;
    if (isMap(node)) next = node.get(seg, true);
    else if (isSeq(node) && typeof seg === 'number') next = node.get(seg, true);
    if (next === undefined || next === null || typeof next !== 'object') break;
    node = next as Node;
  }
  return node;
}

function keyNode(doc: Document, path: Path, key: string): Node | null {
  const map = locate(doc, path);
  if (!isMap(map)) return map;
  const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
  return pair && isScalar(pair.key) ? pair.key : map;
}

function at(lc: LineCounter, node: Node | null): { line?: number; column?: number } {
  const offset = node?.range?.[0];
  if (offset === undefined) return {};
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

/** Registry text -> frozen records by id, or every problem with its path and position. Never throws. */
export function parseDevices(text: string): ParsedDevices {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const pos = lc.linePos(e.pos[0]);
        return { path: '(file)', line: pos.line, column: pos.col, message: e.message.split('\n')[0]! };
      }),
    };
  }
  const raw = doc.toJS() ?? {};
  const result = devicesFileSchema.safeParse(raw);
  if (!result.success) {
    return {
      ok: false,
      errors: result.error.issues.flatMap((issue): DeviceFileError[] => {
        if (issue.code === 'unrecognized_keys') {
          // One error per key, located at the key itself, so an editor jumps to the typo.
          return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), ...at(lc, keyNode(doc, issue.path, key)), message: 'unknown key' }));
        }
        return [{ path: formatPath(issue.path), ...at(lc, locate(doc, issue.path)), message: issue.message }];
      }),
    };
  }
  const devices = new Map<string, DeviceRecord>();
  for (const d of result.data.devices ?? []) {
    devices.set(
      d.id,
      Object.freeze({ id: d.id, passwordHash: d.passwordHash, tags: d.tags ? Object.freeze({ ...d.tags }) : undefined }),
    );
  }
  return { ok: true, devices };
}

export type RegistryChange = {
  readonly added: readonly string[];
  /** Removed from the file: their connections are closed. */
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
    else if (old.passwordHash !== d.passwordHash) rotated.push(id);
  }
  for (const id of prev.keys()) if (!next.has(id)) removed.push(id);
  return { added, removed, rotated };
}

import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../config/atomic-write.js';
import { isMap, isSeq, parseDocument, YAMLSeq, type Document } from 'yaml';
import { parseDevices, type DeviceFileError, type DeviceRecord, type ParsedDevices } from './registry.js';
import { readBoundedText } from '../config/read-bounded.js';
import type { Role } from './roles.js';
import { GatewayError } from '../errors.js';

/**
 * The registry file on disk: load (gateway) and edit (devices CLI). Edits go through the YAML document model so
 * the operator's comments and ordering survive, and are re-validated before they are written.
 */

export type LoadedDevices = ParsedDevices & { readonly source: string; readonly missing: boolean };

/** Reads and validates the registry. A missing file is an empty registry (`missing: true`), not an error. */
export function loadDevicesFile(path: string): LoadedDevices {
  let text: string;
  try {
    text = readBoundedText(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, devices: new Map(), source: path, missing: true };
    return { ok: false, source: path, missing: false, errors: [{ path: '(file)', message: `cannot read: ${(err as Error).message}` }] };
  }
  return { ...parseDevices(text), source: path, missing: false };
}

/**
 * Writes the devices file atomically (see writeFileAtomic). Secrets never touch the file, but the hashes are still
 * private (whoever reads one can guess its secret offline; scrypt only slows that down): a new file gets mode 0600,
 * and an existing one readable by group or others is written owner-only. Resolves with the mode it had when this
 * write took group/other bits away, else undefined.
 */
export async function writeDevicesFileAtomic(path: string, text: string): Promise<number | undefined> {
  const before = await stat(path).then(
    (s) => s.mode & 0o777,
    () => undefined,
  );
  await writeFileAtomic(path, text, { newFileMode: 0o600, createDir: true, clearModeBits: 0o077 });
  return before !== undefined && (before & 0o077) !== 0 ? before : undefined;
}

/** A registry edit that cannot be applied (unknown id, duplicate, invalid file). The CLI exits with code 1. */
export class RegistryEditError extends GatewayError {
  override readonly code = 'GATEWAY_REGISTRY_EDIT';
  constructor(
    message: string,
    readonly errors: readonly DeviceFileError[] = [],
  ) {
    super('GATEWAY_REGISTRY_EDIT', message);
  }
}

const NEW_FILE = `# Device registry: see docs/devices.md. Edit with \`npm run devices -- add|list|remove|rotate\`.
# The gateway reloads this file within about a second of a change.
devices: []
`;

export type Edit =
  | { readonly op: 'add'; readonly id: string; readonly passwordHash: string; readonly tags?: Readonly<Record<string, string>>; readonly role?: Role }
  | { readonly op: 'remove'; readonly id: string }
  | { readonly op: 'rotate'; readonly id: string; readonly passwordHash: string };

function deviceIndex(seq: YAMLSeq, id: string): number {
  return seq.items.findIndex((item) => isMap(item) && item.get('id') === id);
}

/** Applies one edit to the registry text and returns the new text, validated. Pure: no I/O. */
export function applyEdit(text: string | undefined, edit: Edit): string {
  // Validated (within the YAML limits) before the document model is built from it: composing recurses.
  const before = parseDevices(text ?? NEW_FILE);
  if (!before.ok) throw new RegistryEditError('the devices file is invalid; fix it first', before.errors);
  const doc: Document = parseDocument(text ?? NEW_FILE, { uniqueKeys: true });
  let seq = doc.get('devices', true);
  if (!isSeq(seq)) {
    seq = doc.createNode([]) as YAMLSeq;
    doc.set('devices', seq);
  }
  const list = seq as YAMLSeq;
  const at = deviceIndex(list, edit.id);
  switch (edit.op) {
    case 'add': {
      if (at >= 0) throw new RegistryEditError(`device ${JSON.stringify(edit.id)} already exists (use rotate for a new secret)`);
      const entry: Record<string, unknown> = { id: edit.id };
      // `device` is the default: written only for other roles, so device entries look as they always did.
      if (edit.role !== undefined && edit.role !== 'device') entry['role'] = edit.role;
      entry['passwordHash'] = edit.passwordHash;
      if (edit.tags && Object.keys(edit.tags).length > 0) entry['tags'] = { ...edit.tags };
      list.flow = false;
      list.add(doc.createNode(entry));
      break;
    }
    case 'remove':
      if (at < 0) throw new RegistryEditError(`no device ${JSON.stringify(edit.id)}`);
      list.delete(at);
      break;
    case 'rotate': {
      if (at < 0) throw new RegistryEditError(`no device ${JSON.stringify(edit.id)}`);
      const item = list.get(at, true);
      if (isMap(item)) item.set('passwordHash', edit.passwordHash);
      break;
    }
  }
  const out = String(doc);
  const after = parseDevices(out);
  // Positions would point into text that was never written: report paths only.
  if (!after.ok)
    throw new RegistryEditError(
      `cannot ${edit.op} ${JSON.stringify(edit.id)}`,
      after.errors.map(({ path, message }) => ({ path, message })),
    );
  return out;
}

export interface EditResult {
  /** The device records after the edit. */
  readonly devices: ReadonlyMap<string, DeviceRecord>;
  /** The file's mode before, when the edit made it owner-only (it was readable by group or others). */
  readonly tightenedFrom: number | undefined;
}

/** Reads the file (absent: a new one), applies the edit, writes it atomically (owner-only, see writeDevicesFileAtomic). */
export async function editDevicesFile(path: string, edit: Edit): Promise<EditResult> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  const next = applyEdit(text, edit);
  const tightenedFrom = await writeDevicesFileAtomic(path, next);
  const parsed = parseDevices(next);
  return { devices: parsed.ok ? parsed.devices : new Map(), tightenedFrom };
}

#!/usr/bin/env node
/**
 * `devices add|list|remove|rotate`: edits the device registry (auth.devicesFile of the gateway config; GATEWAY_CONFIG
 * names the config, as for the gateway; --file overrides). A running gateway picks each change up within about a
 * second. `add` and `rotate` print `{"id": "...", "password": "..."}` as the last line of stdout: the only time the
 * secret is shown, since the file keeps only its scrypt hash. Every edit leaves the file owner-only (0600): one that
 * was readable by others is tightened, and the CLI says so on stderr.
 * Exit codes: 0 done, 1 the edit was refused (unknown or duplicate id, invalid file or tag), 2 the config is unusable.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError, loadConfig } from '../gateway/config/load.js';
import { generateSecret, hashSecret } from '../gateway/auth/password.js';
import { formatDeviceFileError } from '../gateway/auth/registry.js';
import { editDevicesFile, loadDevicesFile, RegistryEditError, type Edit } from '../gateway/auth/registry-file.js';
import { ROLES, type Role } from '../gateway/auth/roles.js';

interface Globals {
  file?: string;
}

class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function devicesFile(program: Command): string {
  const { file } = program.opts<Globals>();
  if (file) return file;
  try {
    return loadConfig(process.env).config.auth.devicesFile;
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
    throw new ExitCode(2);
  }
}

function parseTag(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(text)}`);
  return { ...previous, [text.slice(0, eq)]: text.slice(eq + 1) };
}

/** Applies one edit; says so when the file was readable by others and is now owner-only (it holds password hashes). */
async function edit(file: string, change: Edit): Promise<void> {
  try {
    const { tightenedFrom } = await editDevicesFile(file, change);
    if (tightenedFrom !== undefined)
      process.stderr.write(
        `devices: ${file} was mode ${tightenedFrom.toString(8).padStart(4, '0')} (readable by others) and holds password hashes: it is now 0600, owner-only\n`,
      );
  } catch (err) {
    if (!(err instanceof RegistryEditError)) throw err;
    process.stderr.write(`devices: ${err.message}\n`);
    for (const e of err.errors) process.stderr.write(`  ${formatDeviceFileError(file, e)}\n`);
    throw new ExitCode(1);
  }
}

const printSecret = (id: string, password: string) => process.stdout.write(`${JSON.stringify({ id, password })}\n`);

const program = new Command('devices')
  .description('Device registry tooling: credentials and tags of the devices allowed to connect')
  .option('-f, --file <path>', 'devices file (default: auth.devicesFile of the gateway config)')
  .showHelpAfterError();

program
  .command('add')
  .description('register a device (or a reader) with a new random secret (printed once, as JSON on the last line)')
  .argument('<id>', 'device id: the MQTT username and the {device} of its topics')
  .option('-t, --tag <key=value>', "InfluxDB tag on the device's points (repeatable)", parseTag, {})
  .addOption(
    new Option('-r, --role <role>', 'device: publishes its own readings; reader: subscribes to devices/#, alerts/# and spBv1.0/#, publishes nothing')
      .choices(ROLES)
      .default('device'),
  )
  .action(async (id: string, opts: { tag: Record<string, string>; role: Role }) => {
    const file = devicesFile(program);
    const password = generateSecret();
    const passwordHash = await hashSecret(password);
    await edit(file, { op: 'add', id, passwordHash, tags: opts.tag, role: opts.role });
    process.stderr.write(`added ${opts.role === 'reader' ? 'reader ' : ''}${id} to ${file}; store the password now, it is not shown again
`);
    printSecret(id, password);
  });

program
  .command('rotate')
  .description('give a device a new secret; its connections using the old one are closed')
  .argument('<id>')
  .action(async (id: string) => {
    const file = devicesFile(program);
    const password = generateSecret();
    const passwordHash = await hashSecret(password);
    await edit(file, { op: 'rotate', id, passwordHash });
    process.stderr.write(`rotated the secret of ${id} in ${file}; its connections with the old secret will be closed\n`);
    printSecret(id, password);
  });

program
  .command('remove')
  .description('unregister a device; its connections are closed')
  .argument('<id>')
  .action(async (id: string) => {
    const file = devicesFile(program);
    await edit(file, { op: 'remove', id });
    process.stdout.write(`removed ${id} from ${file}\n`);
  });

program
  .command('list')
  .description('list registered devices (never secrets or hashes)')
  .option('--json', 'one JSON object per line: {"id", "role", "password": true|false, "tags"}')
  .action((opts: { json?: boolean }) => {
    const file = devicesFile(program);
    const loaded = loadDevicesFile(file);
    if (!loaded.ok) {
      for (const e of loaded.errors) process.stderr.write(`${formatDeviceFileError(file, e)}\n`);
      throw new ExitCode(1);
    }
    for (const d of loaded.devices.values()) {
      const tags = d.tags ?? {};
      const role = d.role ?? 'device';
      if (opts.json) process.stdout.write(`${JSON.stringify({ id: d.id, role, password: d.passwordHash !== undefined, tags })}\n`);
      else {
        const t = Object.entries(tags)
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        process.stdout.write(`${d.id}${role === 'device' ? '' : `\t(${role})`}${d.passwordHash ? '' : '\t(certificate only)'}${t ? `\t${t}` : ''}\n`);
      }
    }
    if (!opts.json)
      process.stderr.write(
        `${loaded.devices.size} device${loaded.devices.size === 1 ? '' : 's'} in ${file}${loaded.missing ? ' (file does not exist yet)' : ''}\n`,
      );
  });

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ExitCode) process.exitCode = err.code;
  else {
    process.stderr.write(`devices: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

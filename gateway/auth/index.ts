import type { Aedes } from 'aedes';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { BrokerMetrics } from '../metrics.js';
import type { Principal } from './acl.js';
import { DeviceAuth } from './device-auth.js';
import { DeviceRegistry, formatDeviceFileError } from './registry.js';
import { DevicesFileWatcher } from './registry-watcher.js';
import { GatewayError } from '../errors.js';

export { DeviceAuth, type AnonymousMode } from './device-auth.js';
export { canPublish, canSubscribe, type Principal } from './acl.js';
export { DeviceRegistry, type DeviceRecord, type RegistryChange } from './registry.js';

/**
 * The registry id of an authenticated principal, a device's or a reader's (mqtt.maxConnectionsPerDevice bounds
 * both: one credential, however used); undefined for anonymous clients (and unauthenticated ones).
 */
export function credentialIdOf(who: Principal | undefined): string | undefined {
  return who === undefined || who.kind === 'anonymous' ? undefined : who.id;
}

/** The registry file is unusable at startup. main() reports it like a config error. */
export class DevicesFileError extends GatewayError {
  override readonly code = 'GATEWAY_DEVICES_INVALID';
  constructor(message: string, options?: ErrorOptions) {
    super('GATEWAY_DEVICES_INVALID', message, options);
  }
}

export interface DeviceAccess {
  readonly registry: DeviceRegistry;
  readonly auth: DeviceAuth;
  /** Extra InfluxDB tags of a device's points (registry `tags`); undefined when it has none. */
  readonly tagsOf: (deviceId: string) => Readonly<Record<string, string>> | undefined;
  /**
   * Problems of the last reload of the devices file, `file:line:column: path: message` each; empty when it was
   * applied. Non-empty means the previous registry stays in force (shown in /health).
   */
  fileErrors(): readonly string[];
  /** Call once the broker exists: connection takeover checks and disconnects on registry changes need it. */
  attach(broker: Aedes): void;
  close(): void;
}

/**
 * Composition of the devices part: loads auth.devicesFile (throws DevicesFileError when invalid: a gateway must
 * not start with a registry it cannot read), and hot-reloads it. A reload that fails validation keeps the previous
 * registry and logs every problem; removing the file empties the registry.
 */
export function createDeviceAccess(
  config: GatewayConfig,
  deps: {
    log: Logger;
    metrics: BrokerMetrics;
    announce?: boolean;
    /** Each reload of the file while running: applied, or invalid (gateway_devices_reloads_total{result}). */
    onReload?: (result: 'applied' | 'invalid') => void;
  },
): DeviceAccess {
  const { log } = deps;
  // With the broker thread, the gateway keeps a second copy (device tags, health): only one of them reports the file.
  const fileLog = deps.announce === false ? log.child({}, { level: 'silent' }) : log;
  const path = config.auth.devicesFile;
  const registry = new DeviceRegistry();
  const auth = new DeviceAuth({ registry, anonymous: config.auth.anonymous, metrics: deps.metrics, log });
  let fileErrors: readonly string[] = [];
  const watcher = new DevicesFileWatcher({
    path,
    onChange: (reload) => {
      if (!reload.ok) {
        fileErrors = reload.errors.map((e) => formatDeviceFileError(path, e));
        deps.onReload?.('invalid');
        fileLog.error({ file: path, problems: fileErrors }, 'devices file invalid: keeping the previous registry');
        return;
      }
      fileErrors = [];
      deps.onReload?.('applied');
      const change = registry.replace(reload.devices);
      const closed = auth.applyChange(change);
      fileLog.info(
        { file: path, devices: registry.size, ...change, connectionsClosed: closed, missing: reload.missing || undefined },
        'device registry reloaded',
      );
    },
    onError: (err) => fileLog.warn({ err, file: path }, 'devices file watch error'),
  });
  const first = watcher.start();
  if (!first.ok) {
    watcher.close();
    throw new DevicesFileError(`invalid devices file ${path}:\n${first.errors.map((e) => `  ${formatDeviceFileError(path, e)}`).join('\n')}`);
  }
  registry.replace(first.devices);
  if (first.missing) fileLog.warn({ file: path }, 'devices file not found: no device can authenticate with a password until it is created');
  fileLog.info({ file: path, devices: registry.size, anonymous: config.auth.anonymous }, 'device registry loaded');
  return {
    registry,
    auth,
    tagsOf: registry.tagsOf,
    fileErrors: () => fileErrors,
    attach: (broker) => auth.attach(broker),
    close: () => watcher.close(),
  };
}

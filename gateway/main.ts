import { ConfigError, loadConfig } from './config/load.js';
import { buildGateway } from './app.js';
import { DevicesFileError } from './auth/index.js';
import { createLogger } from './log.js';
import { applyRuntimeSettings } from './runtime.js';

/**
 * Composition root: load config, build the gateway, listen, and stop gracefully on SIGTERM/SIGINT.
 * Exit codes: 0 after a graceful stop, 2 for an unusable configuration (gateway config or devices file), 1 for
 * any other failure to start.
 */
async function main(): Promise<number | undefined> {
  let loaded;
  try {
    loaded = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gateway: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const { config, source } = loaded;
  applyRuntimeSettings(config.runtime);
  const log = createLogger(config.log.level);
  log.info({ config: source, gatewayId: config.gatewayId }, 'starting');
  let gateway: Awaited<ReturnType<typeof buildGateway>> | undefined;
  let stopping = false;
  // The broker thread died: without MQTT the gateway is useless, so it saves its state and exits (a supervisor restarts it).
  const onFatal = (err: Error) => {
    if (stopping || gateway === undefined) return; // during the build, the build itself fails
    stopping = true;
    log.error({ err }, 'fatal: stopping');
    gateway.stop().finally(() => process.exit(1));
  };
  try {
    gateway = await buildGateway(config, { log, onFatal });
  } catch (err) {
    if (err instanceof DevicesFileError) {
      process.stderr.write(`gateway: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const running = gateway;
  await running.start();

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal during shutdown: exiting at once');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping: no new connections, flushing state');
    running.stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return undefined;
}

main().then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`gateway: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);

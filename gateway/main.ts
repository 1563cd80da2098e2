import { BrokerWorker, useBrokerThread } from './broker/thread/worker-start.js';
import type { Gateway } from './gateway.js';
import { StopSignals, STOP_SIGNAL_COALESCE_MS } from './lifecycle/stop-signals.js';
import { otherThreads } from './threads/priority.js';

/**
 * Composition root: load config, build the gateway, listen, and stop gracefully on SIGTERM/SIGINT.
 * Exit codes: 0 after a graceful stop, 2 for an unusable configuration (gateway config or devices file) or a data
 * folder held by another gateway process, 1 for any other failure to start, a fatal error while running, or a
 * stop forced by a repeated signal (lifecycle/stop-signals.ts).
 */
async function main(): Promise<number | undefined> {
  // Node's and V8's helper threads, listed before the first worker starts (runtime.helperThreadNice, below).
  const helpers = otherThreads();
  // Start-up to the first CONNACK (BENCHMARKS.md, start-up): the broker thread starts first and loads aedes while
  // this thread loads the config and the rest of the gateway (before, one waited for the other); its configuration
  // follows when the broker is built. mqtt.brokerThread `auto` is assumed; `off` ends it below.
  const brokerWorker = useBrokerThread('auto') ? new BrokerWorker() : undefined;
  const { ConfigError, loadConfig } = await import('./config/load.js');
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
  if (!useBrokerThread(config.mqtt.brokerThread)) brokerWorker?.discard();
  const [{ buildGateway }, { DevicesFileError }, { DataDirLockedError }, { createLogger }, { applyRuntimeSettings, niceHelperThreads }] = await Promise.all([
    import('./app.js'),
    import('./auth/index.js'),
    import('./data-dir/lock.js'),
    import('./log.js'),
    import('./runtime.js'),
  ]);
  applyRuntimeSettings(config.runtime);
  const log = createLogger(config.log.level);
  niceHelperThreads(helpers, config.runtime.helperThreadNice, log);
  log.info({ config: source, gatewayId: config.gatewayId }, 'starting');
  let gateway: Gateway | undefined;
  let stopping = false;
  // The broker thread died: without MQTT the gateway is useless, so it saves its state and exits (a supervisor restarts it).
  const onFatal = (err: Error) => {
    if (stopping || gateway === undefined) return; // during the build, the build itself fails
    stopping = true;
    log.error({ err }, 'fatal: stopping');
    gateway.stop().finally(() => process.exit(1));
  };
  try {
    gateway = await buildGateway(config, { log, onFatal, ...(brokerWorker ? { brokerWorker } : {}) });
  } catch (err) {
    brokerWorker?.discard(); // not taken when the build failed before the broker
    if (err instanceof DevicesFileError || err instanceof DataDirLockedError) {
      process.stderr.write(`gateway: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const running = gateway;
  // The first CONNACK can come before start() returns (MQTT listens first): a stop request from then on is
  // taken, and carried out once the start is complete, rather than ending the process by the default handler.
  const started = running.start();

  // Copies of one stop request (a terminal signals npm and the gateway alike, npm forwards) are one request.
  const signals = new StopSignals();
  const stop = (signal: NodeJS.Signals) => {
    const decision = signals.receive(Date.now());
    if (decision === 'force') {
      log.warn({ signal }, 'signal repeated during shutdown: exiting at once without saving state');
      process.exit(1);
    }
    if (decision === 'same') {
      log.info({ signal, coalesceMs: STOP_SIGNAL_COALESCE_MS }, 'signal received again: already stopping (send it once more to exit at once)');
      return;
    }
    if (stopping) {
      log.info({ signal }, 'already stopping after a fatal error');
      return;
    }
    stopping = true;
    log.info({ signal }, 'stopping: no new connections, flushing state');
    started
      .then(() => running.stop())
      .then(
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
  await started;
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

import Module, { createRequire } from 'node:module';
import { resolveInMqttPacket } from './mqtt-packet-deps.js';

/**
 * Loggers of the `debug` package that return at once, for the thread that parses MQTT. mqtt-packet (aedes' parser
 * and writer) calls debug() at 46 places in its parser, several times for every packet, and with DEBUG unset
 * debug 4 still pays for each call: an array of the arguments and its `enabled` getter. Under full QoS 0 load that
 * was 7 % of the broker thread's CPU samples (BENCHMARKS.md, "debug() calls on the broker thread"), where nothing
 * is ever printed. So, when DEBUG is unset and before aedes is loaded, this module puts these loggers in the
 * CommonJS module cache under the file that mqtt-packet's `require('debug')` resolves to ("Adding or replacing
 * entries is also possible": https://nodejs.org/api/modules.html#requirecache). With DEBUG set, debug loads as it
 * would and prints what it is asked to. A side-effect module: import it before anything that loads aedes.
 */
interface QuietDebugger {
  (...args: unknown[]): void;
  readonly namespace: string;
  enabled: boolean;
  log: (...args: unknown[]) => void;
  extend(sub: string, delimiter?: string): QuietDebugger;
  destroy(): boolean;
}

const nothing = (): void => undefined;

function quietDebugger(namespace: string): QuietDebugger {
  return Object.assign((..._args: unknown[]): void => undefined, {
    namespace,
    enabled: false,
    log: nothing,
    extend: (sub: string, delimiter = ':') => quietDebugger(`${namespace}${delimiter}${sub}`),
    destroy: () => false,
  });
}

/** debug's module export: the factory, and the functions and tables a caller may reach through it. */
const quietDebug = Object.assign(quietDebugger, {
  debug: quietDebugger,
  default: quietDebugger,
  enable: nothing,
  disable: () => '',
  enabled: () => false,
  coerce: (v: unknown) => v,
  humanize: (ms: number) => `${ms}ms`,
  log: nothing,
  names: [] as string[],
  skips: [] as string[],
  formatters: {} as Record<string, (v: unknown) => string>,
});

const file = process.env.DEBUG ? undefined : resolveInMqttPacket('debug');
const cache = createRequire(import.meta.url).cache;
if (file !== undefined && cache[file] === undefined) {
  const m = new Module(file);
  m.filename = file;
  m.exports = quietDebug;
  m.loaded = true;
  cache[file] = m;
}

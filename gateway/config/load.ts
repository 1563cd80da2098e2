import { parseYamlSafe } from './safe-yaml.js';
import { configSchema, type GatewayConfig } from './schema.js';
import { readBoundedText } from './read-bounded.js';
import { GatewayError } from '../errors.js';

export const DEFAULT_CONFIG_PATH = 'config/gateway.yaml';

export interface ConfigProblem {
  /** Dotted key path, e.g. `pipeline.interval`, or `(file)` for a problem with the file itself. */
  readonly path: string;
  readonly message: string;
}

/** A config that cannot be used. main() prints every problem and exits with code 2. */
export class ConfigError extends GatewayError {
  override readonly code = 'GATEWAY_CONFIG_INVALID';
  constructor(
    readonly source: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super('GATEWAY_CONFIG_INVALID', `invalid configuration in ${source}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  }
}

/** Environment variables that override the most common keys, so a container or a test needs no file. */
const ENV_OVERRIDES: ReadonlyArray<readonly [string, readonly string[], 'int' | 'string']> = [
  ['GATEWAY_MQTT_PORT', ['mqtt', 'port'], 'int'],
  ['GATEWAY_WS_PORT', ['mqtt', 'wsPort'], 'int'],
  ['GATEWAY_HTTP_PORT', ['http', 'port'], 'int'],
  ['GATEWAY_INFLUX_URL', ['influx', 'url'], 'string'],
  ['GATEWAY_INFLUX_DATABASE', ['influx', 'database'], 'string'],
  // Secrets: from the environment rather than the file (never logged, never in /health or error texts).
  ['GATEWAY_INFLUX_TOKEN', ['influx', 'token'], 'string'],
  ['GATEWAY_INFLUX_USERNAME', ['influx', 'username'], 'string'],
  ['GATEWAY_INFLUX_PASSWORD', ['influx', 'password'], 'string'],
  ['GATEWAY_DATA_DIR', ['buffer', 'dir'], 'string'],
];

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(tree: Tree, path: readonly string[], value: unknown): void {
  let node = tree;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (!isTree(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[path[path.length - 1]!] = value;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Parses YAML text into a plain tree (within the YAML limits, safe-yaml.ts), reporting errors with line and column. */
export function parseYaml(text: string, source: string): unknown {
  const parsed = parseYamlSafe(text);
  if (!parsed.ok) {
    throw new ConfigError(
      source,
      parsed.errors.map((e) => ({
        path: '(file)',
        message: e.line !== undefined ? `line ${e.line}, column ${e.column ?? 1}: ${e.code}: ${e.message}` : `${e.code}: ${e.message}`,
      })),
    );
  }
  return parsed.value ?? {};
}

/** Validates a raw tree (from YAML, plus env overrides) into a frozen config. */
export function validateConfig(raw: unknown, source: string, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  if (!isTree(raw)) throw new ConfigError(source, [{ path: '(file)', message: 'the top level must be a mapping of keys' }]);
  const tree: Tree = structuredClone(raw);
  const problems: ConfigProblem[] = [];
  for (const [name, path, kind] of ENV_OVERRIDES) {
    const text = env[name];
    if (text === undefined || text === '') continue;
    if (kind === 'int') {
      const n = Number(text);
      if (!Number.isInteger(n)) {
        problems.push({ path: `${path.join('.')} (from ${name})`, message: `not an integer: ${JSON.stringify(text)}` });
        continue;
      }
      setPath(tree, path, n);
    } else {
      setPath(tree, path, text);
    }
  }
  if (problems.length > 0) throw new ConfigError(source, problems);
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((i) => ({
        path: i.path.length > 0 ? i.path.join('.') : '(file)',
        message: i.code === 'unrecognized_keys' ? `unknown key(s): ${i.keys.join(', ')}` : i.message,
      })),
    );
  }
  return deepFreeze(result.data);
}

/**
 * Loads the gateway config: the file named by GATEWAY_CONFIG (default config/gateway.yaml), then the
 * GATEWAY_* environment overrides. A missing default file means "all defaults"; a missing named file is an error.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): { config: GatewayConfig; source: string } {
  const named = env['GATEWAY_CONFIG'];
  const source = named && named !== '' ? named : DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = readBoundedText(source);
  } catch (err) {
    if (!named && (err as NodeJS.ErrnoException).code === 'ENOENT') text = '{}';
    else throw new ConfigError(source, [{ path: '(file)', message: `cannot read: ${(err as Error).message}` }]);
  }
  return { config: validateConfig(parseYaml(text, source), source, env), source };
}

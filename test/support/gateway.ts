import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGateway, type Gateway, type GatewayDeps } from '../../gateway/app.js';
import { validateConfig } from '../../gateway/config/load.js';
import type { GatewayConfig } from '../../gateway/config/schema.js';
import { createLogger } from '../../gateway/log.js';

export interface TestGateway {
  readonly gw: Gateway;
  readonly config: GatewayConfig;
  readonly dir: string;
  readonly mqttUrl: string;
  readonly httpUrl: string;
  readonly logLines: () => Record<string, unknown>[];
  stop(): Promise<void>;
  /** Stops the gateway and removes its folder. */
  dispose(): Promise<void>;
}

type Raw = Record<string, Record<string, unknown> | string>;

/** The raw config (as a YAML file would hold it) of a test gateway: free ports, its own folder, fast windows. */
export function testConfigTree(dir: string, influxUrl: string, overrides: Raw = {}): Raw {
  const base: Raw = {
    gatewayId: 'test-gw',
    mqtt: { host: '127.0.0.1', port: 0, wsPort: 0 },
    auth: { devicesFile: join(dir, 'devices.yaml') },
    pipeline: { interval: '1s', allowedLateness: '500ms', correctionHorizon: '30s', dedupHorizon: '60s', tick: '50ms' },
    alerts: { rulesFile: join(dir, 'thresholds.yaml') },
    influx: { url: influxUrl, database: 'iot', flushInterval: '100ms', timeout: '2s' },
    buffer: { dir: join(dir, 'data') },
    http: { host: '127.0.0.1', port: 0 },
    log: { level: 'debug' },
  };
  for (const [k, v] of Object.entries(overrides)) {
    const b = base[k];
    base[k] = typeof v === 'object' && typeof b === 'object' ? { ...b, ...v } : v;
  }
  return base;
}

/** Starts a real gateway in this process (real aedes, real SQLite files) against the given InfluxDB. */
export async function startTestGateway(opts: {
  influxUrl: string;
  overrides?: Raw;
  rules?: string;
  dir?: string;
  deps?: Partial<GatewayDeps>;
}): Promise<TestGateway> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'gw-test-'));
  const tree = testConfigTree(dir, opts.influxUrl, opts.overrides);
  const config = validateConfig(tree, 'test');
  if (opts.rules !== undefined || opts.dir === undefined) writeFileSync(config.alerts.rulesFile, opts.rules ?? 'rules: []\n');
  const lines: string[] = [];
  const log = createLogger(config.log.level, { write: (s: string) => void lines.push(s) });
  const gw = await buildGateway(config, { log, ...opts.deps });
  await gw.start();
  return {
    gw,
    config,
    dir,
    mqttUrl: `mqtt://127.0.0.1:${gw.ports.mqtt}`,
    httpUrl: `http://127.0.0.1:${gw.ports.http}`,
    logLines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    stop: () => gw.stop(),
    async dispose() {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sum of a prom-client metric's values (all label sets), or of one label set. */
export async function metricValue(gw: Gateway, name: keyof Gateway['metrics'], labels?: Record<string, string>): Promise<number> {
  const m = gw.metrics[name] as unknown as { get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] }> };
  const { values } = await m.get();
  return values.filter((v) => !labels || Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

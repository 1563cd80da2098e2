import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseYaml, validateConfig } from '../../../gateway/config/load.js';
import { parseDuration, parseSize } from '../../../gateway/config/units.js';

function problemsOf(fn: () => unknown) {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('units', () => {
  it('parses durations and sizes', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('10 parsecs')).toBeUndefined();
    expect(parseSize('1GiB')).toBe(1024 ** 3);
    expect(parseSize('256KiB')).toBe(262_144);
    expect(parseSize('10MB')).toBe(10_000_000);
    expect(parseSize('lots')).toBeUndefined();
  });
});

describe('config', () => {
  it('takes http.grafanaUrl as an http(s) URL template, and refuses anything else', () => {
    const url = 'http://grafana:3000/d/gw/sensor?var-device={device}&var-sensor={sensor}';
    expect(validateConfig({ http: { grafanaUrl: url } }, 'x').http.grafanaUrl).toBe(url);
    expect(validateConfig({}, 'x').http.grafanaUrl).toBeUndefined();
    expect(() => validateConfig({ http: { grafanaUrl: 'javascript:alert(1)' } }, 'x')).toThrow(/http\.grafanaUrl.*http:\/\/ or https:\/\//s);
  });

  it('the shipped config/gateway.yaml equals the defaults', () => {
    const shipped = validateConfig(parseYaml(readFileSync('config/gateway.yaml', 'utf8'), 'config/gateway.yaml'), 'shipped');
    expect(shipped).toEqual(validateConfig({}, 'defaults'));
    expect(shipped.mqtt.port).toBe(1883);
    expect(shipped.http.port).toBe(8080);
    expect(shipped.pipeline.interval).toBe(10_000);
    expect(shipped.buffer.maxBytes).toBe(1024 ** 3);
    expect(Object.isFrozen(shipped.pipeline)).toBe(true);
  });

  it('names the key path of unknown keys and bad values, all of them', () => {
    const problems = problemsOf(() =>
      validateConfig({ mqtt: { port: 'x', colour: 'red' }, pipeline: { interval: '10 parsecs' }, influx: { url: 'nope' } }, 'f.yaml'),
    );
    const paths = problems.map((p) => p.path).sort();
    expect(paths).toEqual(['influx.url', 'mqtt', 'mqtt.port', 'pipeline.interval']);
    expect(problems.find((p) => p.path === 'mqtt')!.message).toMatch(/unknown key.*colour/);
    expect(problems.find((p) => p.path === 'pipeline.interval')!.message).toMatch(/not a duration/);
  });

  it('bounds the heap growth setting (0 = V8 decides) and defaults it to 50 %', () => {
    expect(validateConfig({}, 'x').runtime.heapGrowthPercent).toBe(50);
    expect(validateConfig({ runtime: { heapGrowthPercent: 0 } }, 'x').runtime.heapGrowthPercent).toBe(0);
    const problems = problemsOf(() => validateConfig({ runtime: { heapGrowthPercent: 400 } }, 'f.yaml'));
    expect(problems.map((p) => p.path)).toEqual(['runtime.heapGrowthPercent']);
  });

  it("bounds the background threads' nice value to 0-19 (0 = as the process) and defaults it to 10", () => {
    expect(validateConfig({}, 'x').runtime.backgroundThreadNice).toBe(10);
    expect(validateConfig({ runtime: { backgroundThreadNice: 0 } }, 'x').runtime.backgroundThreadNice).toBe(0);
    for (const bad of [-1, 20, 2.5]) {
      const problems = problemsOf(() => validateConfig({ runtime: { backgroundThreadNice: bad } }, 'f.yaml'));
      expect(problems.map((p) => p.path)).toEqual(['runtime.backgroundThreadNice']);
    }
  });

  it('has safe defaults for the broker and pipeline limits, and wants room for one message in the send queue', () => {
    const c = validateConfig({}, 'x');
    expect([c.mqtt.maxQueuedBytes, c.mqtt.maxTopicFilterBytes, c.mqtt.maxRetainedMessages, c.mqtt.maxRetainedBytes]).toEqual([
      16 * 1024 ** 2,
      1024,
      10_000,
      64 * 1024 ** 2,
    ]);
    expect([c.mqtt.maxConnectionsPerDevice, c.mqtt.maxConnectionsPerAddress, c.pipeline.maxSensorsPerDevice]).toEqual([10, 1000, 1000]);
    const problems = problemsOf(() => validateConfig({ mqtt: { maxPayloadBytes: '1MiB', maxQueuedBytes: '512KiB' } }, 'f.yaml'));
    expect(problems.map((p) => p.path)).toEqual(['mqtt.maxQueuedBytes']);
    expect(problems[0]!.message).toMatch(/at least mqtt.maxPayloadBytes/);
  });

  it('reports YAML syntax errors with line and column', () => {
    const problems = problemsOf(() => parseYaml('mqtt:\n  port: 1883\n port: [\n', 'bad.yaml'));
    expect(problems[0]!.message).toMatch(/line \d+, column \d+/);
  });

  it('refuses over-limit YAML (deep nesting, alias bomb) as a ConfigError with the position, and accepts shared aliases', () => {
    const deep = problemsOf(() => parseYaml('mqtt: ' + '['.repeat(5000), 'deep.yaml'));
    expect(deep[0]!.message).toMatch(/^line 1, column \d+: YAML_LIMIT: collections nested more than 64 levels/);
    const bomb =
      'a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n' +
      'bcdefgh'
        .split('')
        .map(
          (c, i) =>
            `${c}: &${c} [${Array(10)
              .fill('*' + 'abcdefg'[i])
              .join(', ')}]`,
        )
        .join('\n') +
      '\n';
    expect(problemsOf(() => parseYaml(bomb, 'bomb.yaml'))[0]!.message).toContain('maxAliasCount');
    const shared = parseYaml('d: &d 5s\npipeline: { allowedLateness: *d, tick: 250ms }\n', 'ok.yaml') as Record<string, unknown>;
    expect(validateConfig({ pipeline: shared['pipeline'] }, 'ok.yaml').pipeline.allowedLateness).toBe(5000);
  });

  it('applies environment overrides, and refuses a non-integer port', () => {
    const c = validateConfig({}, 'x', { GATEWAY_MQTT_PORT: '0', GATEWAY_INFLUX_URL: 'http://10.0.0.1:8086', GATEWAY_DATA_DIR: '/tmp/d' });
    expect(c.mqtt.port).toBe(0);
    expect(c.influx.url).toBe('http://10.0.0.1:8086');
    expect(c.buffer.dir).toBe('/tmp/d');
    const problems = problemsOf(() => validateConfig({}, 'x', { GATEWAY_HTTP_PORT: 'eighty' }));
    expect(problems[0]!.path).toBe('http.port (from GATEWAY_HTTP_PORT)');
  });

  it('loads the file named by GATEWAY_CONFIG and fails when it is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-config-'));
    const file = join(dir, 'g.yaml');
    writeFileSync(file, 'gatewayId: site-7\npipeline:\n  interval: 1m\n');
    const { config } = loadConfig({ GATEWAY_CONFIG: file });
    expect(config.gatewayId).toBe('site-7');
    expect(config.pipeline.interval).toBe(60_000);
    expect(problemsOf(() => loadConfig({ GATEWAY_CONFIG: join(dir, 'missing.yaml') }))[0]!.message).toMatch(/cannot read/);
  });
});

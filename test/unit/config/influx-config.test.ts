import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseYaml, validateConfig } from '../../../gateway/config/load.js';

/** The influx section's dialect keys and secrets (docs/influxdb.md). */
describe('influx config', () => {
  it('defaults to the 1.x API, with no token', () => {
    const c = validateConfig({}, 'test');
    expect(c.influx).toMatchObject({ api: 'v1', database: 'iot' });
    expect(c.influx.token).toBeUndefined();
  });

  it('takes the token, user and password from the environment (over the file)', () => {
    const c = validateConfig({ influx: { api: 'v3', token: 'from-file' } }, 'test', {
      GATEWAY_INFLUX_TOKEN: 'from-env',
      GATEWAY_INFLUX_USERNAME: 'u',
      GATEWAY_INFLUX_PASSWORD: 'p',
    });
    expect(c.influx).toMatchObject({ api: 'v3', token: 'from-env', username: 'u', password: 'p' });
  });

  it('v2 needs an org; an unknown api is refused; neither message shows the token', () => {
    const problems = (raw: unknown) => {
      try {
        validateConfig(raw, 'test', { GATEWAY_INFLUX_TOKEN: 'top-secret-token' });
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).message).not.toContain('top-secret-token');
        return (err as ConfigError).problems.map((p) => p.path);
      }
      throw new Error('expected a ConfigError');
    };
    expect(problems({ influx: { api: 'v2' } })).toEqual(['influx.org']);
    expect(problems({ influx: { api: 'v4' } })).toEqual(['influx.api']);
    expect(validateConfig({ influx: { api: 'v2', org: 'acme', bucket: 'b' } }, 'test').influx).toMatchObject({ org: 'acme', bucket: 'b' });
  });

  it('accepts the snippet of docs/influxdb.md, as shown and with its commented keys set', () => {
    const snippet = /```yaml\n([\s\S]*?)```/.exec(readFileSync('docs/influxdb.md', 'utf8'))![1]!;
    expect(validateConfig(parseYaml(snippet, 'docs'), 'docs').influx).toMatchObject({ api: 'v3', url: 'http://127.0.0.1:8181', database: 'iot' });
    const all = validateConfig(parseYaml(snippet.replace(/^(\s*)# (\w+:)/gm, '$1$2'), 'docs'), 'docs').influx;
    expect(all).toMatchObject({ org: 'acme', bucket: 'iot', retentionPolicy: 'week', token: '...' });
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DATASOURCE } from '../../../gateway/grafana/model.js';

/**
 * The provisioning folders per influx.api (docs/grafana.md): v1 in config/grafana/provisioning (tested with the
 * dashboards), v2 and v3 here. The dashboards stay InfluxQL, so each folder must provision an InfluxQL data source
 * under the uid the dashboards name, and the same dashboard provider.
 */
const dir = (api: string) => `config/grafana/provisioning${api === 'v1' ? '' : `-${api}`}`;
type Ds = { uid: string; type: string; url: string; jsonData: Record<string, string>; secureJsonData?: Record<string, string> };
const datasources = (api: string) =>
  (parse(readFileSync(join(dir(api), 'datasources/influxdb.yaml'), 'utf8')) as { apiVersion: number; datasources: Ds[] }).datasources;

describe.each(['v2', 'v3'])('Grafana provisioning for influx.api %s', (api) => {
  it("provisions the dashboards' InfluxQL data source, authenticated with a read token from the environment", () => {
    const ds = datasources(api).find((d) => d.uid === DATASOURCE.uid)!;
    expect(ds).toMatchObject({
      type: DATASOURCE.type,
      url: '${GATEWAY_INFLUX_URL}',
      jsonData: { version: 'InfluxQL', dbName: '${GATEWAY_INFLUX_DB}', httpHeaderName1: 'Authorization' },
      secureJsonData: { httpHeaderValue1: 'Token ${GATEWAY_INFLUX_READ_TOKEN}' },
    });
    // One pipeline.interval for all three dialects.
    expect(ds.jsonData.timeInterval).toBe(datasources('v1')[0]!.jsonData.timeInterval);
  });

  it('loads the dashboards with the same provider as 1.x', () => {
    expect(readFileSync(join(dir(api), 'dashboards/gateway.yaml'), 'utf8')).toBe(readFileSync(join(dir('v1'), 'dashboards/gateway.yaml'), 'utf8'));
  });

  it('names only environment variables docs/grafana.md documents', () => {
    const docs = readFileSync('docs/grafana.md', 'utf8');
    const yaml = readFileSync(join(dir(api), 'datasources/influxdb.yaml'), 'utf8').replace(/^\s*#.*$/gm, '');
    const vars = new Set([...yaml.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!));
    expect(vars).toEqual(new Set(['GATEWAY_INFLUX_URL', 'GATEWAY_INFLUX_DB', 'GATEWAY_INFLUX_READ_TOKEN']));
    for (const v of vars) expect(docs, v).toContain(v);
  });
});

describe('Grafana provisioning for influx.api v3', () => {
  it('also offers a SQL data source under its own uid', () => {
    expect(datasources('v3').find((d) => d.uid === 'gateway-influxdb-sql')).toMatchObject({
      jsonData: { version: 'SQL', dbName: '${GATEWAY_INFLUX_DB}' },
      secureJsonData: { token: '${GATEWAY_INFLUX_READ_TOKEN}' },
    });
  });
});

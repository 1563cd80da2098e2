import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../gateway/auth/password.js';
import { freePort, startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect } from '../support/mqtt.js';
import { MOSQUITTO_PUB, runClient } from '../support/run-client.js';

/**
 * MQTT clients written by others against the real gateway (auth.anonymous: deny, a registered device):
 * Debian's mosquitto_pub (mosquitto-clients 2.0), Eclipse Paho for Python (python3-paho-mqtt, for /usr/bin/python3)
 * and MQTT.js. With MQTT 3.1.1 their readings arrive exact in InfluxDB, over TCP and WebSocket; with MQTT 5 each is
 * refused with the code it understands (the broker speaks 3.1.1: gateway/broker/protocol-version.ts), and the
 * refusal is counted and logged. `.ci/run` installs both Debian packages.
 */
const PYTHON = '/usr/bin/python3';
const PAHO = join(import.meta.dirname, '../support/clients/paho_client.py');
const SECRET = 'gh-1-third-party-secret';

const reading = (ts: number, value: number) => JSON.stringify({ ts, value });

describe('third-party MQTT clients', () => {
  let influx: InfluxServer;
  let tg: TestGateway;
  let dir: string;
  let port: string;

  beforeAll(async () => {
    for (const f of [MOSQUITTO_PUB, PYTHON]) if (!existsSync(f)) throw new Error(`${f} is missing: install mosquitto-clients and python3-paho-mqtt (.ci/run)`);
    influx = await startInfluxd();
    dir = mkdtempSync(join(tmpdir(), 'gw-clients-'));
    const devicesFile = join(dir, 'devices.yaml');
    writeFileSync(devicesFile, ['devices:', '  - id: gh-1', `    passwordHash: ${await hashSecret(SECRET)}`, ''].join('\n'));
    tg = await startTestGateway({
      influxUrl: influx.url,
      dir,
      rules: 'rules: []\n',
      overrides: { mqtt: { host: '127.0.0.1', port: 0, wsPort: await freePort() }, auth: { devicesFile, anonymous: 'deny' } },
    });
    port = String(tg.gw.ports.mqtt);
  });

  afterAll(async () => {
    await tg?.stop();
    await influx?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('with MQTT 3.1.1, readings from mosquitto_pub, Paho (TCP and WebSocket) and MQTT.js arrive exact in InfluxDB', async () => {
    const ts = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    const mosq = await runClient(MOSQUITTO_PUB, [
      '-V',
      'mqttv311',
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-i',
      'mosq-311',
      '-u',
      'gh-1',
      '-P',
      SECRET,
      '-q',
      '1',
      '-t',
      'devices/gh-1/sensors/mosquitto',
      '-m',
      reading(ts, 21.25),
    ]);
    expect(mosq, mosq.out).toMatchObject({ code: 0 });
    const paho = await runClient(PYTHON, [PAHO, '127.0.0.1', port, 'tcp', '3.1.1', 'gh-1', SECRET, 'devices/gh-1/sensors/paho', reading(ts, -4.5)]);
    expect(paho.out).toContain('"published"');
    const pahoWs = await runClient(PYTHON, [
      PAHO,
      '127.0.0.1',
      String(tg.gw.ports.ws),
      'websockets',
      '3.1.1',
      'gh-1',
      SECRET,
      'devices/gh-1/sensors/paho_ws',
      reading(ts, 1013.125),
    ]);
    expect(pahoWs.out).toContain('"published"');
    const js = await connect(tg.mqttUrl, { clientId: 'mqttjs-311', protocolVersion: 4, username: 'gh-1', password: SECRET });
    await js.publishAsync('devices/gh-1/sensors/mqttjs', reading(ts, 0.1), { qos: 1 });
    await js.endAsync();

    const rows = await waitFor('four series in InfluxDB', async () => {
      const r = await influx.query(`SELECT "mean", "count" FROM "telemetry" WHERE "device" = 'gh-1' GROUP BY "sensor"`, 'iot');
      const series = r[0]?.series ?? [];
      return series.length >= 4
        ? Object.fromEntries(series.map((s) => [s.tags!['sensor'], { time: s.values[0]![0], mean: s.values[0]![1], count: s.values[0]![2] }]))
        : undefined;
    });
    const at = new Date(ts).toISOString().replace('.000Z', 'Z');
    expect(rows).toEqual({
      mosquitto: { time: at, mean: 21.25, count: 1 },
      paho: { time: at, mean: -4.5, count: 1 },
      paho_ws: { time: at, mean: 1013.125, count: 1 },
      mqttjs: { time: at, mean: 0.1, count: 1 },
    });
  });

  it('with MQTT 5, each client is refused with the code it understands (TCP and WebSocket); every refusal is counted and logged', async () => {
    const before = await metricValue(tg.gw, 'mqttRefused', { reason: 'protocol_version' });
    const received = await metricValue(tg.gw, 'messagesReceived');

    const mosq = await runClient(MOSQUITTO_PUB, [
      '-V',
      'mqttv5',
      '-h',
      '127.0.0.1',
      '-p',
      port,
      '-i',
      'mosq-5',
      '-u',
      'gh-1',
      '-P',
      SECRET,
      '-q',
      '1',
      '-t',
      'devices/gh-1/sensors/x',
      '-m',
      reading(Date.now(), 1),
    ]);
    // 132 = 0x84 Unsupported Protocol Version: the 3.1.1 CONNACK return code 1, read as an MQTT 5 reason code.
    expect(mosq.code).toBe(132);
    expect(mosq.out).toContain('Unsupported Protocol Version');

    const paho = await runClient(PYTHON, [PAHO, '127.0.0.1', port, 'tcp', '5', 'gh-1', SECRET, 'devices/gh-1/sensors/x', reading(Date.now(), 1)]);
    expect(paho.out.trim().split('\n')[0]).toBe('{"connack": 132}');

    const js = mqtt.connect(tg.mqttUrl, { clientId: 'mqttjs-5', protocolVersion: 5, username: 'gh-1', password: SECRET, reconnectPeriod: 0 });
    const err = await new Promise<Error & { code?: number }>((resolve) => js.once('error', resolve));
    js.end(true);
    expect(err).toMatchObject({ code: 1, message: 'Connection refused: Unacceptable protocol version' });
    // The same over WebSocket (subprotocol `mqtt`, path /mqtt).
    const ws = mqtt.connect(`ws://127.0.0.1:${tg.gw.ports.ws}/mqtt`, {
      clientId: 'mqttjs-5-ws',
      protocolVersion: 5,
      username: 'gh-1',
      password: SECRET,
      reconnectPeriod: 0,
    });
    const wsErr = await new Promise<Error & { code?: number }>((resolve) => ws.once('error', resolve));
    ws.end(true);
    expect(wsErr).toMatchObject({ code: 1 });

    // Counted once the CONNACK is written, which the client may see first.
    await waitFor('four refusals counted', async () =>
      (await metricValue(tg.gw, 'mqttRefused', { reason: 'protocol_version' })) === before + 4 ? true : undefined,
    );
    expect(await metricValue(tg.gw, 'messagesReceived')).toBe(received);
    const logged = await waitFor('refusal logged', () => {
      const lines = tg
        .logLines()
        .filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('MQTT connection refused: unsupported protocol version'));
      return lines.length >= 4 ? lines : undefined;
    });
    expect(logged.map((l) => l['clientId']).sort()).toEqual(['mosq-5', 'mqttjs-5', 'mqttjs-5-ws', 'paho-5']);
    expect(logged[0]).toMatchObject({ level: 40, reason: 'protocol_version', address: '127.0.0.1', protocolLevel: 5 });
  });
});

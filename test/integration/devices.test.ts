import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../gateway/auth/password.js';
import { freePort, startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';
import { connect } from '../support/mqtt.js';
import { devicesCli } from '../support/devices-cli.js';
import { connectPacket } from '../support/mqtt-wire.js';
import { closedWithin, raw } from '../support/raw-socket.js';

/**
 * Devices end to end: real aedes through buildGateway, real MQTT.js clients over TCP, TLS and WebSocket, the
 * devices CLI run as a child process against the running gateway's registry file, and a real InfluxDB.
 */

/** A throwaway CA, a server certificate for 127.0.0.1 and client certificates, made with the openssl CLI. */
function makeCerts(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-ca');
  const issue = (name: string, cn: string, ext?: string) => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1'];
    if (ext) {
      writeFileSync(join(dir, `${name}.ext`), ext);
      args.push('-extfile', `${name}.ext`);
    }
    ssl(...args);
  };
  issue('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  issue('gh-cert', 'gh-cert');
  issue('stranger', 'not-registered');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rogue.key', '-out', 'rogue.crt', '-days', '1', '-subj', '/CN=gh-cert');
  const read = (f: string) => readFileSync(join(dir, f));
  return { dir, ca: read('ca.crt'), clientCert: (name: string) => ({ cert: read(`${name}.crt`), key: read(`${name}.key`) }) };
}

function lastJsonLine(stdout: string): { id: string; password: string } {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as { id: string; password: string };
}

/** Connects and resolves with the CONNACK return code (0 = accepted), closing the client. */
async function connackCode(url: string, opts: IClientOptions): Promise<number> {
  try {
    const c = await connect(url, opts);
    await c.endAsync();
    return 0;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

/** Resolves with the error (or the close) of a connection the server refuses during the TLS handshake. */
function handshakeError(url: string, opts: IClientOptions): Promise<string> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  return new Promise((resolve, reject) => {
    client.on('connect', () => reject(new Error('connected')));
    client.on('error', (err) => {
      client.end(true);
      resolve(err.message);
    });
    // A certificate the server does not trust ends the connection with a TLS alert that MQTT.js reports only as a close.
    client.on('close', () => {
      client.end(true);
      resolve('closed before CONNACK');
    });
  });
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

const telemetry = (ts: number, readings: Record<string, number>) => JSON.stringify({ ts, readings });

// Authentication and ACL run where aedes runs (mqtt.brokerThread): on its own thread, and in the gateway's thread.
describe.each(['on', 'off'] as const)('devices: registry, authentication, ACL and transports (brokerThread %s)', (brokerThread) => {
  let influx: InfluxServer;
  let tg: TestGateway;
  let dir: string;
  let devicesFile: string;
  let certs: ReturnType<typeof makeCerts>;
  const SECRET = 'gh-1-secret-for-tests';
  const clients: MqttClient[] = [];
  const track = (c: MqttClient) => (clients.push(c), c);

  beforeAll(async () => {
    influx = await startInfluxd();
    dir = mkdtempSync(join(tmpdir(), 'gw-devices-'));
    certs = makeCerts(dir);
    devicesFile = join(dir, 'devices.yaml');
    writeFileSync(
      devicesFile,
      [
        'devices:',
        '  - id: gh-1',
        `    passwordHash: ${await hashSecret(SECRET)}`,
        '    tags: { site: north, room: r1 }',
        '  - id: gh-2',
        `    passwordHash: ${await hashSecret('gh-2-secret')}`,
        '  - id: gh-cert',
        '    tags: { site: south }',
        '',
      ].join('\n'),
    );
    tg = await startTestGateway({
      influxUrl: influx.url,
      dir,
      rules: 'rules: []\n',
      overrides: {
        mqtt: {
          host: '127.0.0.1',
          port: 0,
          wsPort: await freePort(),
          tls: { port: 0, cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt'), requireClientCert: false },
          brokerThread,
        },
        auth: { devicesFile, anonymous: 'deny' },
      },
    });
  });

  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    await tg?.stop();
    await influx?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a wrong secret and an unknown device with 4, and an anonymous client under `deny` with 5', async () => {
    expect(await connackCode(tg.mqttUrl, { clientId: 'a', username: 'gh-1', password: 'wrong' })).toBe(4);
    expect(await connackCode(tg.mqttUrl, { clientId: 'b', username: 'ghost', password: SECRET })).toBe(4);
    expect(await connackCode(tg.mqttUrl, { clientId: 'c' })).toBe(5);
    expect(await connackCode(tg.mqttUrl, { clientId: 'd', username: 'gh-1', password: SECRET })).toBe(0);
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'bad_password' })).toBe(1);
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'unknown_device' })).toBe(1);
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'anonymous_refused' })).toBe(1);
  });

  it('does not let a device publish as another (disconnects it) nor subscribe to others (QoS 128)', async () => {
    const received = await metricValue(tg.gw, 'messagesReceived');
    const gh1 = track(await connect(tg.mqttUrl, { clientId: 'gh-1-acl', username: 'gh-1', password: SECRET }));
    // MQTT.js reports a SUBACK with a refused filter as an error that carries the packet.
    const suback = await gh1.subscribeAsync(['devices/gh-2/#', 'alerts/gh-1/#'], { qos: 1 }).then(
      () => undefined,
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted,
    );
    expect(suback).toEqual([128, 1]);
    const gone = closed(gh1);
    gh1.publish('devices/gh-2/telemetry', telemetry(Date.now(), { temperature: 99 }), { qos: 1 });
    await gone;
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'publish_denied' })).toBe(1);
    expect(await metricValue(tg.gw, 'authFailures', { reason: 'subscribe_denied' })).toBe(1);
    expect(await metricValue(tg.gw, 'messagesReceived')).toBe(received);
  });

  it('carries readings over TCP, TLS (password and client certificate) and WebSocket into InfluxDB, with registry tags', async () => {
    const tlsUrl = `mqtts://127.0.0.1:${tg.gw.ports.tls}`;
    const wsUrl = `ws://127.0.0.1:${tg.gw.ports.ws}`;
    const tcp = track(await connect(tg.mqttUrl, { clientId: 'gh-1-tcp', username: 'gh-1', password: SECRET }));
    const tlsPassword = track(await connect(tlsUrl, { clientId: 'gh-2-tls', username: 'gh-2', password: 'gh-2-secret', ca: certs.ca }));
    const tlsCert = track(await connect(tlsUrl, { clientId: 'gh-cert', ca: certs.ca, ...certs.clientCert('gh-cert') }));
    const ws = track(await connect(wsUrl, { clientId: 'gh-1-ws', username: 'gh-1', password: SECRET }));
    const ts = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    await tcp.publishAsync('devices/gh-1/telemetry', telemetry(ts, { temperature: 21.5 }), { qos: 1 });
    await ws.publishAsync('devices/gh-1/telemetry', telemetry(ts + 1000, { humidity: 40 }), { qos: 1 });
    await tlsPassword.publishAsync('devices/gh-2/sensors/pressure', JSON.stringify({ ts, value: 1013 }), { qos: 1 });
    await tlsCert.publishAsync('devices/gh-cert/telemetry', telemetry(ts, { co2: 420 }), { qos: 1 });

    type Row = { time: string; device: string; sensor: string; site?: string; room?: string; mean: number };
    const rows = await waitFor('four series in InfluxDB', async () => {
      const r = await influx.query(`SELECT "mean" FROM "telemetry" WHERE "gateway" = 'test-gw' GROUP BY *`, 'iot');
      const out: Row[] = (r[0]?.series ?? []).flatMap((s) =>
        s.values.map((v) => ({ ...(s.tags as Record<string, string>), time: String(v[0]), mean: v[1] as number }) as unknown as Row),
      );
      return out.length >= 4 ? out : undefined;
    });
    const bySeries = Object.fromEntries(rows.map((r) => [`${r.device}/${r.sensor}`, r]));
    expect(bySeries['gh-1/temperature']).toMatchObject({ mean: 21.5, site: 'north', room: 'r1' });
    expect(bySeries['gh-1/humidity']).toMatchObject({ mean: 40, site: 'north', room: 'r1' });
    expect(bySeries['gh-2/pressure']).toMatchObject({ mean: 1013 });
    expect(bySeries['gh-2/pressure']!.site ?? '').toBe('');
    expect(bySeries['gh-cert/co2']).toMatchObject({ mean: 420, site: 'south' });
  });

  it('refuses certificates of unregistered devices and certificates not signed by the CA', async () => {
    const tlsUrl = `mqtts://127.0.0.1:${tg.gw.ports.tls}`;
    expect(await connackCode(tlsUrl, { clientId: 's', ca: certs.ca, ...certs.clientCert('stranger') })).toBe(5);
    // A self-signed certificate with a registered CN is not verified, so it is no identity: anonymous -> refused.
    expect(await connackCode(tlsUrl, { clientId: 'r', ca: certs.ca, ...certs.clientCert('rogue') })).toBe(5);
    // A certificate for one device does not let its holder log in as another.
    expect(await connackCode(tlsUrl, { clientId: 'x', ca: certs.ca, ...certs.clientCert('gh-cert'), username: 'gh-1', password: SECRET })).toBe(5);
  });

  it('accepts a device added with the CLI while the gateway runs, and disconnects it on rotate and remove', async () => {
    const registered = async () => ((await (await fetch(`${tg.httpUrl}/health`)).json()) as { devices: { registered: number } }).devices.registered;
    const before = await registered();
    const added = devicesCli(devicesFile, 'add', 'new-dev', '--tag', 'site=east');
    expect(added.status).toBe(0);
    const { id, password } = lastJsonLine(added.stdout);
    expect(id).toBe('new-dev');
    expect(readFileSync(devicesFile, 'utf8')).not.toContain(password);

    await waitFor('/health to count the new device', async () => ((await registered()) === before + 1 ? true : undefined));
    const dev = track(
      await waitFor(
        'the new device to be accepted',
        () => connect(tg.mqttUrl, { clientId: 'new-dev', username: id, password }).catch(() => undefined),
        20_000,
        100,
      ),
    );
    await dev.publishAsync('devices/new-dev/telemetry', telemetry(Date.now(), { temperature: 1 }), { qos: 1 });

    const rotatedAway = closed(dev);
    const rotated = devicesCli(devicesFile, 'rotate', 'new-dev');
    expect(rotated.status).toBe(0);
    await rotatedAway;
    expect(await connackCode(tg.mqttUrl, { clientId: 'new-dev', username: id, password })).toBe(4);
    const fresh = lastJsonLine(rotated.stdout).password;
    const again = track(await connect(tg.mqttUrl, { clientId: 'new-dev', username: id, password: fresh }));

    const removedAway = closed(again);
    expect(devicesCli(devicesFile, 'remove', 'new-dev').status).toBe(0);
    await removedAway;
    expect(await connackCode(tg.mqttUrl, { clientId: 'new-dev', username: id, password: fresh })).toBe(4);
    expect(await registered()).toBe(before);
  });

  it("lets a device take its own session over but not another device's client id", async () => {
    const first = track(await connect(tg.mqttUrl, { clientId: 'sess-1', username: 'gh-1', password: SECRET }));
    const firstGone = closed(first);
    track(await connect(tg.mqttUrl, { clientId: 'sess-1', username: 'gh-1', password: SECRET }));
    await firstGone;
    expect(await connackCode(tg.mqttUrl, { clientId: 'sess-1', username: 'gh-2', password: 'gh-2-secret' })).toBe(2);
    await waitFor('takeover logged', () =>
      tg.logLines().some((l) => l['msg'] === 'client id taken over by a new connection' && l['clientId'] === 'sess-1') ? true : undefined,
    );
  });

  it('keeps the registry when the file becomes invalid, and logs why', async () => {
    const good = readFileSync(devicesFile, 'utf8');
    writeFileSync(devicesFile, `${good}  - id: "bad id"\n`);
    await waitFor('invalid file logged', () =>
      tg.logLines().some((l) => l['msg'] === 'devices file invalid: keeping the previous registry') ? true : undefined,
    );
    expect(await connackCode(tg.mqttUrl, { clientId: 'still', username: 'gh-1', password: SECRET })).toBe(0);
    writeFileSync(devicesFile, good);
  });
});

// Handshake refusals happen where the listeners run (mqtt.brokerThread): on its own thread, and in the gateway's.
describe.each(['on', 'off'] as const)('devices: TLS with required client certificates (brokerThread %s)', (brokerThread) => {
  let tg: TestGateway;
  let dir: string;
  let certs: ReturnType<typeof makeCerts>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-mtls-'));
    certs = makeCerts(dir);
    writeFileSync(join(dir, 'devices.yaml'), 'devices:\n  - id: gh-cert\n');
    tg = await startTestGateway({
      influxUrl: 'http://127.0.0.1:9', // never reached by these tests
      dir,
      rules: 'rules: []\n',
      overrides: {
        mqtt: {
          host: '127.0.0.1',
          port: 0,
          wsPort: 0,
          brokerThread,
          tls: { port: 0, cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt'), requireClientCert: true },
        },
        auth: { devicesFile: join(dir, 'devices.yaml'), anonymous: 'allow' },
      },
    });
  });

  afterAll(async () => {
    await tg?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a client with a CA-signed certificate and fails the handshake of one without', async () => {
    const url = `mqtts://127.0.0.1:${tg.gw.ports.tls}`;
    const before = await metricValue(tg.gw, 'mqttRefused', { reason: 'tls_handshake' });
    expect(await connackCode(url, { clientId: 'c', ca: certs.ca, ...certs.clientCert('gh-cert') })).toBe(0);
    expect(await handshakeError(url, { clientId: 'n', ca: certs.ca })).toMatch(/certificate required/);
    expect(await handshakeError(url, { clientId: 'r', ca: certs.ca, ...certs.clientCert('rogue') })).toMatch(/alert|certificate|closed before CONNACK/);
    // The server counts a failed handshake after the client can see it fail: Node's TLS server emits tlsClientError
    // on the tick after it has sent the alert (no certificate), or from the close event of the socket it destroyed
    // after the handshake (a foreign certificate: 'socket hang up'). With the broker on its own thread nothing orders
    // that against this test, so wait for both here: a count landing after the next test took its baseline would
    // make that test's exact count one too many.
    await waitFor('both failed handshakes counted', async () =>
      (await metricValue(tg.gw, 'mqttRefused', { reason: 'tls_handshake' })) === before + 2 ? true : undefined,
    );
  });

  it('counts and logs each failed handshake: no certificate, a foreign one, a client that distrusts the server, plain MQTT', async () => {
    const url = `mqtts://127.0.0.1:${tg.gw.ports.tls}`;
    const failed = () => metricValue(tg.gw, 'mqttRefused', { reason: 'tls_handshake' });
    const before = await failed();
    const tlsLines = () => tg.logLines().filter((x) => x.msg === 'TLS handshake failed');
    const linesBefore = tlsLines().length;
    await handshakeError(url, { clientId: 'n', ca: certs.ca });
    await handshakeError(url, { clientId: 'r', ca: certs.ca, ...certs.clientCert('rogue') });
    // mosquitto_pub checks the server against a CA that did not sign it and aborts the handshake with an alert.
    // Run asynchronously: with brokerThread off the gateway shares this test's event loop.
    const status = await new Promise<number | null>((resolve) => {
      const args = [
        '-h',
        '127.0.0.1',
        '-p',
        String(tg.gw.ports.tls),
        '--cafile',
        join(dir, 'rogue.crt'),
        '--cert',
        join(dir, 'gh-cert.crt'),
        '--key',
        join(dir, 'gh-cert.key'),
        '-t',
        'devices/gh-cert/telemetry',
        '-m',
        '{}',
      ];
      spawn('mosquitto_pub', args, { stdio: 'ignore', timeout: 30_000 }).once('close', (code) => resolve(code));
    });
    expect(status).not.toBe(0);
    // Plain MQTT on the TLS port.
    const plain = await raw(tg.gw.ports.tls!);
    plain.socket.write(connectPacket('plain', 60));
    expect(await closedWithin(plain, 10_000)).toBe(true);
    await waitFor('four handshakes counted', async () => ((await failed()) === before + 4 ? true : undefined));
    // Each is logged with its code; lines of one code are rate-limited (5 per 10 s), so a code the earlier cases of
    // this file also produced (the foreign certificate's reset) may be folded into 'similar log lines suppressed'.
    const expected = ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_WRONG_VERSION_NUMBER'];
    const codes = await waitFor('logged', () => {
      const l = tlsLines()
        .slice(linesBefore)
        .map((x) => x.code);
      return expected.every((c) => l.includes(c)) ? l : undefined;
    });
    // The count is exact (below); the lines may hold one more of an earlier case, forwarded late from the broker thread.
    expect(codes.length).toBeGreaterThanOrEqual(3);
    // A good client still gets in, and its handshake counts nothing.
    expect(await connackCode(url, { clientId: 'c2', ca: certs.ca, ...certs.clientCert('gh-cert') })).toBe(0);
    expect(await failed()).toBe(before + 4);
  });
});

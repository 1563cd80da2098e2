import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { connackCode } from '../support/mqtt.js';
import { connectPacket } from '../support/mqtt-wire.js';
import { closedWithin, raw } from '../support/raw-socket.js';
import { makeCerts, type TestCerts, tlsListener } from '../support/tls-certs.js';
import { waitFor } from '../support/wait.js';

/**
 * Devices over TLS with required client certificates, end to end: real aedes through buildGateway, MQTT.js clients
 * and mosquitto_pub whose handshakes the TLS listener fails, each counted (gateway_mqtt_refused_total{reason=
 * "tls_handshake"}) and logged. The registry, authentication by certificate and the other transports:
 * devices.test.ts.
 */

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

// Handshake refusals happen where the listeners run (mqtt.brokerThread): on its own thread, and in the gateway's.
describe.each(['on', 'off'] as const)('devices: TLS with required client certificates (brokerThread %s)', (brokerThread) => {
  let tg: TestGateway;
  let dir: string;
  let certs: TestCerts;

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
          tls: tlsListener(dir, true),
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

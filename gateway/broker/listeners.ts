import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Aedes } from 'aedes';
import type { WebSocketServer } from 'ws';
import type { GatewayConfig } from '../config/schema.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { ConnectionCounts } from './connection-counts.js';
import { maxPacketBytes, watchPacketSizes, type RefusedReason } from './limits.js';

/** The sockets the broker listens on. Port 0 in the config means "any free port" (tests); read the bound ports here. */
export interface Listeners {
  readonly mqttPort: number;
  /** undefined when mqtt.wsPort is 0 (disabled). */
  readonly wsPort: number | undefined;
  /** undefined when mqtt.tls is not configured. */
  readonly tlsPort: number | undefined;
  close(): Promise<void>;
}

function listen(server: NetServer | HttpServer | TlsServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: NetServer | HttpServer | TlsServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * `onRefused` counts connections the limits close (gateway_mqtt_refused_total): a packet over
 * maxPacketBytes(mqtt.maxPayloadBytes), a connection beyond mqtt.maxConnections or mqtt.maxConnectionsPerAddress,
 * a failed TLS handshake. Each is logged, at most a few lines per kind every 10 s (RateLimitedLog).
 */
export async function startListeners(
  broker: Aedes,
  mqtt: GatewayConfig['mqtt'],
  log: Logger,
  wsEnabled = mqtt.wsPort !== 0,
  onRefused: (reason: RefusedReason) => void = () => {},
): Promise<Listeners> {
  const maxPacket = maxPacketBytes(mqtt.maxPayloadBytes);
  const refusedLog = new RateLimitedLog(log);
  const perAddress = new ConnectionCounts(mqtt.maxConnectionsPerAddress);
  // Every transport goes through here, so one packet-size guard and one count per address cover TCP, TLS and
  // WebSocket. `socket` is the TCP socket under the connection (for WebSocket, the upgraded request's).
  const handle = (conn: Duplex, socket: Socket, req?: IncomingMessage) => {
    const remote = socket.remoteAddress ?? 'unknown';
    if (!perAddress.takeFor(remote, socket)) {
      onRefused('max_connections_per_address');
      refusedLog.warn(`address:${remote}`, { remote, max: mqtt.maxConnectionsPerAddress }, 'MQTT connection refused: mqtt.maxConnectionsPerAddress reached');
      conn.destroy();
      return;
    }
    broker.handle(conn, req);
    watchPacketSizes(conn, maxPacket, (declared) => {
      onRefused('packet_too_large');
      refusedLog.warn('packet_too_large', { declared, max: maxPacket, remote }, 'MQTT packet over the size limit: connection closed');
    });
  };
  const dropped = () => {
    onRefused('max_connections');
    refusedLog.warn('max_connections', { max: mqtt.maxConnections }, 'MQTT connection refused: mqtt.maxConnections reached');
  };
  // Nagle's algorithm would hold an alert event or a PUBACK until the peer's delayed ACK (up to 40 ms on
  // Linux) whenever a previous small packet is still unacknowledged; MQTT's packets are small and latency-bound.
  const tcp = createNetServer({ noDelay: true }, (socket) => handle(socket, socket));
  tcp.maxConnections = mqtt.maxConnections;
  tcp.on('drop', dropped);
  const mqttPort = await listen(tcp, mqtt.port, mqtt.host);
  log.info({ port: mqttPort, host: mqtt.host }, 'MQTT listening (TCP)');

  let http: HttpServer | undefined;
  let wss: WebSocketServer | undefined;
  let wsPort: number | undefined;
  if (wsEnabled) {
    // ws loads after the TCP listener is up: not on the way to a TCP device's first CONNACK (BENCHMARKS.md, start-up).
    const { WebSocketServer, createWebSocketStream } = await import('ws');
    http = createHttpServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: connect with a WebSocket client\n');
    });
    wss = new WebSocketServer({ server: http, maxPayload: maxPacket + 5 /* fixed header */ });
    wss.on('connection', (ws, req) => {
      if (wss!.clients.size > mqtt.maxConnections) {
        dropped();
        return ws.close(1013, 'too many connections');
      }
      const stream = createWebSocketStream(ws);
      stream.on('error', () => stream.destroy());
      handle(stream, req.socket as Socket, req);
    });
    wsPort = await listen(http, mqtt.wsPort, mqtt.host);
    log.info({ port: wsPort, host: mqtt.host }, 'MQTT listening (WebSocket)');
  }

  let tls: TlsServer | undefined;
  let tlsPort: number | undefined;
  if (mqtt.tls) {
    const t = mqtt.tls;
    // With a CA, ask for a client certificate; the auth hooks trust its CN only when the TLS layer verified it
    // (socket.authorized). requireClientCert makes the handshake itself fail without one.
    tls = createTlsServer(
      {
        cert: readFileSync(t.cert),
        key: readFileSync(t.key),
        ...(t.ca ? { ca: readFileSync(t.ca), requestCert: true, rejectUnauthorized: t.requireClientCert } : {}),
        noDelay: true,
      },
      (socket) => handle(socket, socket),
    );
    tls.maxConnections = mqtt.maxConnections;
    tls.on('drop', dropped);
    // A wrong CA, a missing or foreign client certificate, plain MQTT on this port, a socket closed mid-handshake.
    tls.on('tlsClientError', (err: Error & { code?: string }, socket) => {
      onRefused('tls_handshake');
      const code = err.code ?? 'unknown';
      refusedLog.warn(`tls:${code}`, { code, err: err.message, remote: socket.remoteAddress }, 'TLS handshake failed');
    });
    tlsPort = await listen(tls, t.port, mqtt.host);
    log.info({ port: tlsPort, host: mqtt.host, clientCerts: t.ca ? (t.requireClientCert ? 'required' : 'optional') : 'off' }, 'MQTT listening (TLS)');
  }

  return {
    mqttPort,
    wsPort,
    tlsPort,
    async close() {
      for (const client of wss?.clients ?? []) client.terminate();
      await Promise.all([closeServer(tcp), http ? closeServer(http) : Promise.resolve(), tls ? closeServer(tls) : Promise.resolve()]);
    },
  };
}

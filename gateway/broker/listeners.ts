import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import type { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../log.js';

/** The sockets the broker listens on. Port 0 in the config means "any free port" (tests); read the bound ports here. */
export interface Listeners {
  readonly mqttPort: number;
  /** undefined when mqtt.wsPort is 0 (disabled). */
  readonly wsPort: number | undefined;
  close(): Promise<void>;
}

function listen(server: NetServer | HttpServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: NetServer | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startListeners(broker: Aedes, mqtt: GatewayConfig['mqtt'], log: Logger, wsEnabled = mqtt.wsPort !== 0): Promise<Listeners> {
  const tcp = createNetServer(broker.handle);
  tcp.maxConnections = mqtt.maxConnections;
  const mqttPort = await listen(tcp, mqtt.port, mqtt.host);
  log.info({ port: mqttPort, host: mqtt.host }, 'MQTT listening (TCP)');

  let http: HttpServer | undefined;
  let wss: WebSocketServer | undefined;
  let wsPort: number | undefined;
  if (wsEnabled) {
    http = createHttpServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: connect with a WebSocket client\n');
    });
    wss = new WebSocketServer({ server: http, maxPayload: mqtt.maxPayloadBytes + 1024 });
    wss.on('connection', (ws, req) => {
      if (wss!.clients.size > mqtt.maxConnections) return ws.close(1013, 'too many connections');
      const stream = createWebSocketStream(ws);
      stream.on('error', () => stream.destroy());
      broker.handle(stream, req);
    });
    wsPort = await listen(http, mqtt.wsPort, mqtt.host);
    log.info({ port: wsPort, host: mqtt.host }, 'MQTT listening (WebSocket)');
  }

  return {
    mqttPort,
    wsPort,
    async close() {
      for (const client of wss?.clients ?? []) client.terminate();
      await Promise.all([closeServer(tcp), http ? closeServer(http) : Promise.resolve()]);
    },
  };
}

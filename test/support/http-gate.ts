import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpGate {
  readonly url: string;
  /** Requests received so far (held or passed). */
  received(): number;
  /** Passes the held requests on, and every later one at once. */
  open(): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of `target` (InfluxDB) that holds every request, unanswered, until open(): a gateway's
 * outbox write is then in flight for as long as a test needs (a graceful stop waits for it).
 */
export async function httpGate(target: string): Promise<HttpGate> {
  const to = new URL(target);
  let isOpen = false;
  let count = 0;
  const held: (() => void)[] = [];
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const up = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server = createServer((req, res) => {
    count++;
    res.on('error', () => {});
    if (isOpen) forward(req, res);
    else held.push(() => forward(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received: () => count,
    open() {
      isOpen = true;
      for (const f of held.splice(0)) f();
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

import { connect as netConnect, type Socket } from 'node:net';

/** A plain TCP connection for raw MQTT packets (mqtt-wire.ts): what it received, and whether the server closed it. */
export interface Raw {
  socket: Socket;
  received: () => Buffer;
  closed: Promise<void>;
  isClosed: () => boolean;
}

/** Connects to 127.0.0.1:port; `read: false` leaves the incoming bytes unread (a client that stops reading). */
export function raw(port: number, opts: { read?: boolean } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let isClosed = false;
    const closed = new Promise<void>((r) => socket.once('close', () => ((isClosed = true), r())));
    socket.on('error', () => {});
    if (opts.read !== false) socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('connect', () => resolve({ socket, received: () => Buffer.concat(chunks), closed, isClosed: () => isClosed }));
    socket.once('error', reject);
  });
}

/** True when the server closed `r` within `ms` (an upper bound to give up, not a timing assertion). */
export const closedWithin = (r: Raw, ms: number) => Promise.race([r.closed.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), ms))]);

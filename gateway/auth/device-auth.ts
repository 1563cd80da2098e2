import { TLSSocket } from 'node:tls';
import type { Aedes, AedesOptions, AuthenticateError, Client, PublishPacket } from 'aedes';
import { RateLimitedLog, type Logger } from '../log.js';
import type { AuthFailureReason, BrokerMetrics } from '../metrics.js';
import { canPublish, canSubscribe, type Principal } from './acl.js';
import { decoyHash, verifySecret } from './password.js';
import type { DeviceRecord, DeviceRegistry, RegistryChange } from './registry.js';
import { FailureThrottle } from './throttle.js';

export type AnonymousMode = 'loopback' | 'allow' | 'deny';

export interface DeviceAuthOptions {
  readonly registry: DeviceRegistry;
  readonly anonymous: AnonymousMode;
  readonly metrics: BrokerMetrics;
  readonly log: Logger;
  readonly throttle?: FailureThrottle;
  readonly now?: () => number;
  /** How a refusal waits out its throttle delay; tests pass an immediate one. */
  readonly sleep?: (ms: number) => Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const RC_BAD_CREDENTIALS = 4;
const RC_NOT_AUTHORIZED = 5;
const RC_IDENTIFIER_REJECTED = 2;

/** The peer address of an aedes client: the socket for TCP/TLS, the HTTP upgrade request for WebSocket. */
export function remoteAddressOf(client: Client): string {
  const conn = client.conn as { remoteAddress?: string };
  return conn.remoteAddress ?? client.req?.socket?.remoteAddress ?? 'unknown';
}

export function isLoopback(address: string): boolean {
  return LOOPBACK.has(address);
}

/** The CN of a client certificate the TLS layer verified against `mqtt.tls.ca`, if any. */
export function certificateCommonName(client: Client): string | undefined {
  const conn = client.conn;
  if (!(conn instanceof TLSSocket) || !conn.authorized) return undefined;
  const cn: unknown = conn.getPeerCertificate()?.subject?.CN;
  return typeof cn === 'string' ? cn : Array.isArray(cn) && typeof cn[0] === 'string' ? cn[0] : undefined;
}

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

type Outcome =
  | { readonly ok: true; readonly principal: Principal; readonly hash?: string }
  | { readonly ok: false; readonly returnCode: number; readonly reason: AuthFailureReason; readonly detail: string };

/**
 * Authentication and topic ACL for the broker: aedes hooks `authenticate` and `authorizeSubscribe`, plus
 * `authorizePublish` for the publish gate. Every CONNECT verifies against the registry as it is at that moment
 * (nothing is cached), and a registry change closes the connections whose device was removed or rotated.
 * Call attach(broker) once the broker exists.
 */
export class DeviceAuth {
  private readonly principals = new WeakMap<Client, Principal>();
  /** The password hash a client was verified against: a rotation that lands before it is registered still counts. */
  private readonly verifiedHash = new WeakMap<Client, string>();
  private readonly throttle: FailureThrottle;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly refusedLog: RateLimitedLog;
  private broker: Aedes | undefined;

  constructor(private readonly opts: DeviceAuthOptions) {
    this.throttle = opts.throttle ?? new FailureThrottle();
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms).unref()));
    this.refusedLog = new RateLimitedLog(opts.log);
  }

  /** Lets the hooks see the broker's connected clients (client-id takeover, disconnect on registry change). */
  attach(broker: Aedes): void {
    this.broker = broker;
    // A device removed while its CONNECT was being verified is registered after the change was applied: recheck.
    broker.on('client', (client) => {
      if (!this.stillValid(client)) client.close();
    });
  }

  principalOf(client: Client): Principal | undefined {
    return this.principals.get(client);
  }

  readonly authenticate: NonNullable<AedesOptions['authenticate']> = (client, username, password, done) => {
    const address = remoteAddressOf(client);
    this.decide(client, address, username, password).then(
      async (outcome) => {
        if (outcome.ok) {
          this.principals.set(client, outcome.principal);
          if (outcome.hash !== undefined) this.verifiedHash.set(client, outcome.hash);
          return done(null, true);
        }
        this.refused(outcome.reason, { address, clientId: client.id, username, detail: outcome.detail });
        // Loopback is exempt: local tools are trusted like the machine itself, and behind a reverse proxy on the
        // same host every client shares the proxy's address, so one guesser would slow everyone down.
        if (!isLoopback(address)) await this.sleep(this.throttle.fail(address, this.now()));
        done(refusal(outcome.returnCode, outcome.detail), false);
      },
      (err: unknown) => {
        this.opts.log.error({ err, address, clientId: client.id }, 'authentication failed unexpectedly');
        done(refusal(3, 'server unavailable'), false);
      },
    );
  };

  readonly authorizeSubscribe: NonNullable<AedesOptions['authorizeSubscribe']> = (client, sub, done) => {
    const who = this.principals.get(client);
    const decision = who ? canSubscribe(who, sub.topic) : { ok: false as const, reason: 'subscribe_denied' as const, detail: 'not authenticated' };
    if (decision.ok) return done(null, sub);
    this.refused(decision.reason, { clientId: client.id, device: deviceOf(who), filter: sub.topic, detail: decision.detail });
    done(null, null); // granted QoS 0x80 in the SUBACK; the connection stays
  };

  /**
   * Publish ACL for the broker's publish gate: null when allowed, else an error (which makes aedes drop an MQTT
   * 3.1.1 client: there is no negative PUBACK, and an ACL breach is not worth keeping the connection for).
   */
  authorizePublish(client: Client, packet: PublishPacket): Error | null {
    const who = this.principals.get(client);
    const decision = who ? canPublish(who, packet.topic) : { ok: false as const, reason: 'publish_denied' as const, detail: 'not authenticated' };
    if (decision.ok) return null;
    this.refused(decision.reason, { clientId: client.id, device: deviceOf(who), topic: packet.topic, detail: decision.detail });
    return new Error(`publish refused: ${decision.detail}`);
  }

  /** Closes the connections of removed devices and of rotated devices that logged in with the old secret. */
  applyChange(change: RegistryChange): number {
    if (!this.broker || (change.removed.length === 0 && change.rotated.length === 0)) return 0;
    const removed = new Set(change.removed);
    const rotated = new Set(change.rotated);
    let closed = 0;
    for (const client of Object.values(brokerClients(this.broker))) {
      const who = this.principals.get(client);
      if (who === undefined || who.kind === 'anonymous') continue;
      const reason = removed.has(who.id) ? 'removed' : rotated.has(who.id) && who.via === 'password' ? 'rotated' : undefined;
      if (!reason) continue;
      this.opts.log.info({ device: who.id, clientId: client.id, reason }, 'closing connection of a changed device');
      client.close();
      closed++;
    }
    return closed;
  }

  private async decide(client: Client, address: string, username: string | undefined, password: Buffer | undefined): Promise<Outcome> {
    const outcome = await this.identify(client, address, username, password);
    if (!outcome.ok) return outcome;
    return this.checkTakeover(client, address, outcome.principal) ?? outcome;
  }

  private async identify(client: Client, address: string, username: string | undefined, password: Buffer | undefined): Promise<Outcome> {
    const cn = certificateCommonName(client);
    if (cn !== undefined) {
      if (!this.opts.registry.get(cn))
        return {
          ok: false,
          returnCode: RC_NOT_AUTHORIZED,
          reason: 'certificate_refused',
          detail: `certificate CN ${JSON.stringify(cn)} is not a registered device`,
        };
      if (username !== undefined && username !== '' && username !== cn) {
        return {
          ok: false,
          returnCode: RC_NOT_AUTHORIZED,
          reason: 'certificate_refused',
          detail: `username ${JSON.stringify(username)} differs from the certificate CN ${JSON.stringify(cn)}`,
        };
      }
      return { ok: true, principal: principalFor(this.opts.registry.get(cn)!, 'certificate') };
    }
    if (username === undefined || username === '') {
      if (password !== undefined) return { ok: false, returnCode: RC_BAD_CREDENTIALS, reason: 'bad_password', detail: 'password without username' };
      const mode = this.opts.anonymous;
      if (mode === 'allow' || (mode === 'loopback' && isLoopback(address))) return { ok: true, principal: { kind: 'anonymous' } };
      return { ok: false, returnCode: RC_NOT_AUTHORIZED, reason: 'anonymous_refused', detail: `anonymous clients are refused (auth.anonymous: ${mode})` };
    }
    const device = this.opts.registry.get(username);
    const secret = password?.toString('utf8') ?? '';
    if (!device?.passwordHash) {
      // Same work as a wrong secret, so the time of a refusal does not reveal which device ids exist.
      await verifySecret(secret, await decoyHash());
      return {
        ok: false,
        returnCode: RC_BAD_CREDENTIALS,
        reason: 'unknown_device',
        detail: device ? 'device has no password (certificate only)' : 'unknown device',
      };
    }
    const hash = device.passwordHash;
    const ok = await verifySecret(secret, hash);
    // The registry may have changed while scrypt ran: a secret is good only if it still is.
    if (!ok || this.opts.registry.get(username)?.passwordHash !== hash) {
      return { ok: false, returnCode: RC_BAD_CREDENTIALS, reason: 'bad_password', detail: 'wrong secret' };
    }
    return { ok: true, principal: principalFor(device, 'password'), hash };
  }

  /**
   * [MQTT-3.1.4-2] a second connection with a client id takes the session over and aedes closes the first. That is
   * how a device reconnects through a half-open socket, so it is allowed for the same identity (and logged), but one
   * device may not kick another off by borrowing its client id.
   */
  private checkTakeover(client: Client, address: string, who: Principal): Outcome | undefined {
    const existing = this.broker ? brokerClients(this.broker)[client.id] : undefined;
    if (!existing || existing === client) return undefined;
    const holder = this.principals.get(existing);
    if (holder && principalKey(holder) !== principalKey(who)) {
      return { ok: false, returnCode: RC_IDENTIFIER_REJECTED, reason: 'client_id_taken', detail: `client id is in use by ${principalKey(holder)}` };
    }
    this.opts.log.info(
      { clientId: client.id, device: deviceOf(who), address, previousAddress: remoteAddressOf(existing) },
      'client id taken over by a new connection',
    );
    return undefined;
  }

  private stillValid(client: Client): boolean {
    const who = this.principals.get(client);
    if (who === undefined || who.kind === 'anonymous') return true;
    const d = this.opts.registry.get(who.id);
    return d !== undefined && (who.via === 'certificate' || d.passwordHash === this.verifiedHash.get(client));
  }

  private refused(reason: AuthFailureReason, details: Record<string, unknown>): void {
    this.opts.metrics.authFailures.inc({ reason });
    const key = `${reason}:${String(details['address'] ?? details['device'] ?? details['clientId'])}`;
    this.refusedLog.warn(key, { reason, ...details }, reason.endsWith('_denied') ? 'MQTT access refused' : 'MQTT connection refused');
  }
}

function brokerClients(broker: Aedes): Record<string, Client> {
  // aedes keeps connected clients by id in `clients`; it is public in practice but missing from its typings.
  return (broker as unknown as { clients: Record<string, Client> }).clients;
}

function principalFor(entry: DeviceRecord, via: 'password' | 'certificate'): Principal {
  return { kind: entry.role === 'reader' ? 'reader' : 'device', id: entry.id, via };
}

function principalKey(who: Principal): string {
  return who.kind === 'anonymous' ? 'an anonymous client' : `${who.kind} ${who.id}`;
}

/** The registry id of the client (a device or a reader), for logs. */
function deviceOf(who: Principal | undefined): string | undefined {
  return who === undefined || who.kind === 'anonymous' ? undefined : who.id;
}

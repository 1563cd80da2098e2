import type { FastifyInstance } from 'fastify';
import type { AdminPlugin } from './admin/server.js';
import type { AlertService } from './alerts/service.js';
import type { DeviceAccess } from './auth/index.js';
import type { BrokerFront } from './broker/front.js';
import type { BrokerWorker } from './broker/thread/worker-start.js';
import type { GatewayConfig } from './config/schema.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Outbox } from './outbox/outbox.js';

/**
 * What a built gateway is and what it is built with: the contract of both composition roots (app.ts for a single
 * gateway, cluster/gateway.ts for a cluster node), which main.ts and the tests use.
 */

export interface GatewayDeps {
  readonly log: Logger;
  /** Gateway clock (ms). Tests may inject one; timers still run on real time. */
  readonly now?: () => number;
  /** A part the gateway cannot run without failed while it runs (the broker thread): main.ts stops and exits. */
  readonly onFatal?: (err: Error) => void;
  /** Extra admin routes (operator page, devices). */
  readonly adminPlugins?: readonly AdminPlugin[];
  /** The broker thread, started by main.ts before it loaded the rest (mqtt.brokerThread); taken by the broker. */
  readonly brokerWorker?: BrokerWorker;
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly metrics: Metrics;
  readonly outbox: Outbox;
  readonly alerts: AlertService;
  /** aedes, in this thread or in the broker thread (mqtt.brokerThread). */
  readonly broker: BrokerFront;
  /** The admin HTTP app, built by start() after the MQTT listeners are up (reading it before throws). */
  readonly admin: FastifyInstance;
  /** Device registry (hot-reloaded from auth.devicesFile), authentication and topic ACL. */
  readonly devices: DeviceAccess;
  /** Bound ports, known after start() (the config may say 0 for "any free port"). */
  readonly ports: { mqtt: number; ws: number | undefined; tls: number | undefined; http: number };
  start(): Promise<void>;
  /** Graceful stop: no new connections, open state checkpointed, emitted windows committed to the outbox. */
  stop(): Promise<void>;
}

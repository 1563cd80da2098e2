import type { FastifyInstance } from 'fastify';
import type { HealthReport } from '../admin/server.js';
import type { AlertService } from '../alerts/service.js';
import type { BrokerFront } from '../broker/front.js';
import type { Gateway } from '../gateway.js';
import type { GatewayBase } from './base.js';
import { healthReport, type RootHealth } from './health.js';
import type { GatewayOutputs } from './outputs.js';

/** What a composition root adds to the start/stop sequence both roots share (composeGateway). */
export interface RootParts {
  /** Gateway.broker: the broker, or a front over it (a cluster node relays its own publishes). Listens and closes. */
  readonly broker: BrokerFront;
  /** Gateway.alerts: the service of the rules API and the operator page; closed by stop(). */
  readonly alerts: AlertService;
  /** The root's sections of /health (healthReport). */
  readonly health: () => RootHealth;
  /** Builds the admin app; start() calls it once MQTT listens (it is not on the way to the first CONNACK). */
  readonly buildAdmin: (health: () => HealthReport) => Promise<FastifyInstance>;
  /** The log line once the admin app listens (its port and host are added). */
  readonly announce: { readonly msg: string; readonly fields?: Record<string, unknown> };
  /** Every pipeline.tick from start() until stop(), with the gateway clock. */
  readonly tick: (now: number) => void;
  /** start(): after the outbox and the stats reporter start, before MQTT listens. */
  readonly beforeListen?: () => void;
  /** start(): once MQTT and the admin app listen, before the first tick. */
  readonly afterListen?: () => void;
  /** stop(): once the ticks stop, before the broker closes. */
  readonly beforeBrokerClose?: () => Promise<void>;
  /** stop(): once the broker is closed (nothing new reaches the pipeline), before the stats' last sample. */
  readonly afterBrokerClose: () => void | Promise<void>;
  /** stop(): once the outbox is closed (its last batch committed), before the data folder's lock is released. */
  readonly afterOutboxClose: () => void | Promise<void>;
}

/**
 * The Gateway both composition roots return (app.ts, cluster/gateway.ts): its ports, its /health, and the
 * start/stop sequence around the root's own steps. start(): outbox and stats, MQTT listeners, then the admin app
 * (built and listening), then ticks. stop() (once): ticks, MQTT closed first (so nothing reaches the pipeline after
 * its state is saved), the stats' last sample, alerts, devices, the outbox, the data folder's lock (after the last
 * write to it), the admin app.
 */
export function composeGateway(base: GatewayBase, out: GatewayOutputs, root: RootParts): Gateway {
  const { config, log, now, metrics, devices } = base;
  const { outbox, stats } = out;
  const { broker, alerts } = root;
  let listening = false;
  const health = healthReport(base, { outbox, broker, listening: () => listening }, root.health);
  let admin: FastifyInstance | undefined;
  let ticker: NodeJS.Timeout | undefined;
  const ports = { mqtt: 0, ws: undefined as number | undefined, tls: undefined as number | undefined, http: 0 };
  let stopped = false;
  return {
    config,
    metrics,
    outbox,
    alerts,
    broker,
    get admin(): FastifyInstance {
      if (admin === undefined) throw new Error('the admin app is built by start()');
      return admin;
    },
    devices,
    ports,
    async start() {
      outbox.start();
      stats.start();
      root.beforeListen?.();
      const bound = await broker.listen();
      listening = true;
      ports.mqtt = bound.mqtt;
      ports.ws = bound.ws;
      ports.tls = bound.tls;
      admin = await root.buildAdmin(health);
      await admin.listen({ host: config.http.host, port: config.http.port });
      const address = admin.server.address();
      ports.http = typeof address === 'object' && address !== null ? address.port : config.http.port;
      log.info({ port: ports.http, host: config.http.host, ...root.announce.fields }, root.announce.msg);
      root.afterListen?.();
      ticker = setInterval(() => root.tick(now()), config.pipeline.tick);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (ticker) clearInterval(ticker);
      await root.beforeBrokerClose?.();
      // Stop accepting first, so nothing reaches the pipeline after its state is saved.
      await broker.close();
      await root.afterBrokerClose();
      await stats.stop();
      alerts.close();
      devices.close();
      await outbox.close();
      await root.afterOutboxClose();
      base.dataDir.release(); // after the last write to the folder
      await admin?.close();
    },
  };
}

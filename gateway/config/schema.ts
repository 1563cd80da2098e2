import { z } from 'zod';
import { ID_PATTERN } from '../wire/topics.js';
import { duration, size } from './zod-units.js';

/**
 * The gateway's configuration schema. Unknown keys are errors (strict objects), durations and sizes are
 * parsed here so the rest of the code sees milliseconds and bytes. Defaults mirror config/gateway.yaml.
 */
const port = z.number().int().min(0).max(65535);
const id = z.string().regex(ID_PATTERN, `must match ${ID_PATTERN.source}`);

const tlsSchema = z.strictObject({
  port,
  cert: z.string().min(1),
  key: z.string().min(1),
  ca: z.string().min(1).optional(),
  /** With `ca`: refuse clients that present no certificate signed by it. */
  requireClientCert: z.boolean().default(false),
});

export const configSchema = z
  .strictObject({
    gatewayId: id.default('edge-1'),
    mqtt: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: port.default(1883),
        wsPort: port.default(8083),
        maxPayloadBytes: size(16).default(262_144),
        maxConnections: z.number().int().min(1).default(10_000),
        connectTimeout: duration(100).default(10_000),
        /** Distinct topic filters one client may hold; beyond it SUBSCRIBE returns 128 for the extra ones. */
        maxSubscriptions: z.number().int().min(1).default(1000),
        /** A subscriber whose socket does not drain within this long is disconnected (aedes drainTimeout). */
        drainTimeout: duration(100).default(10_000),
        /** Bytes waiting to be written to one client; beyond it the client is disconnected (a subscriber that reads too slowly). */
        maxQueuedBytes: size(64 * 1024).default(16 * 1024 ** 2),
        /** Longest topic filter in a SUBSCRIBE, in UTF-8 bytes; a longer one gets return code 128. */
        maxTopicFilterBytes: z.number().int().min(16).max(65_535).default(1024),
        /** Topics that clients keep a retained message on; a retained publish on a new topic beyond it is not stored. */
        maxRetainedMessages: z.number().int().min(0).default(10_000),
        /** Topic + payload bytes of all retained messages clients keep; beyond it a retained publish is not stored. */
        maxRetainedBytes: size(0).default(64 * 1024 ** 2),
        /** Connections one device (authenticated device id) may hold at once. */
        maxConnectionsPerDevice: z.number().int().min(1).default(10),
        /** Connections one source address may hold at once (all clients behind a reverse proxy share its address). */
        maxConnectionsPerAddress: z.number().int().min(1).default(1000),
        /**
         * Where aedes runs: `on` in a thread of its own (MQTT parsing and routing on one core, the pipeline on
         * another), `off` in the gateway's thread, `auto` on when the machine has more than one core.
         */
        brokerThread: z.enum(['auto', 'on', 'off']).default('auto'),
        /**
         * Where the broker keeps persistent sessions (clean=false: subscriptions and the QoS 1/2 messages queued
         * while away), retained messages and wills: `disk` in `{buffer.dir}/broker/` (LevelDB), kept across
         * restarts and kills; `memory` forgets them at every restart (broker/persistence/open.ts). `memory` is the
         * default while `disk` can lose a live QoS 1 delivery to a connected subscriber (docs/mqtt.md).
         */
        sessions: z.enum(['disk', 'memory']).default('memory'),
        /** Messages stored for one persistent session while it is away; newer ones are dropped for it, counted. */
        maxQueuedPerSession: z.number().int().min(1).default(10_000),
        tls: tlsSchema.optional(),
      })
      .prefault({}),
    auth: z
      .strictObject({
        devicesFile: z.string().default('config/devices.yaml'),
        anonymous: z.enum(['loopback', 'allow', 'deny']).default('loopback'),
      })
      .prefault({}),
    pipeline: z
      .strictObject({
        interval: duration(1).default(10_000),
        allowedLateness: duration().default(5_000),
        correctionHorizon: duration().default(900_000),
        dedupHorizon: duration().default(900_000),
        /** How often the gateway clock closes idle windows. */
        tick: duration(10).default(250),
        /** Distinct sensor names one device may have; readings of further names are rejected (too_many_sensors). */
        maxSensorsPerDevice: z.number().int().min(1).default(1000),
      })
      .prefault({}),
    alerts: z.strictObject({ rulesFile: z.string().default('config/thresholds.yaml') }).prefault({}),
    influx: z
      .strictObject({
        url: z.url().default('http://127.0.0.1:8086'),
        /** Which write API: v1 (/write, 1.x), v2 (/api/v2/write: 2.x, 1.8+, 3.x, Cloud) or v3 (/api/v3/write_lp: 3.x). */
        api: z.enum(['v1', 'v2', 'v3']).default('v1'),
        database: z.string().min(1).default('iot'),
        /** v1 only: the retention policy written to; absent: the database's default. */
        retentionPolicy: z.string().min(1).optional(),
        /** v2 only: the organization (required by 2.x and Cloud; 1.8 ignores it). */
        org: z.string().min(1).optional(),
        /** v2 only: the bucket; absent: `database`. The gateway does not create buckets. */
        bucket: z.string().min(1).optional(),
        measurement: z.string().min(1).default('telemetry'),
        username: z.string().optional(),
        password: z.string().optional(),
        /** API token (v2: `Token`, v3: `Bearer`, v1: `Token`, for 1.8+). Better from GATEWAY_INFLUX_TOKEN than in the file. */
        token: z.string().min(1).optional(),
        batchSize: z.number().int().min(1).max(100_000).default(5000),
        flushInterval: duration(10).default(1000),
        timeout: duration(100).default(10_000),
        /** A backlog drains over this many parallel requests, split by series (order per series is kept). */
        writeLanes: z.number().int().min(1).max(8).default(2),
      })
      .superRefine((i, ctx) => {
        if (i.api === 'v2' && i.org === undefined) {
          ctx.addIssue({ code: 'custom', path: ['org'], message: 'required with api v2 (InfluxDB 2.x and Cloud need it; for 1.8 any value will do)' });
        }
      })
      .prefault({}),
    buffer: z
      .strictObject({
        dir: z.string().default('data'),
        maxBytes: size(1024 * 1024).default(1024 ** 3),
      })
      .prefault({}),
    http: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: port.default(8080),
        token: z.string().min(16).optional(),
        /**
         * A Grafana panel per sensor on the operator page: a URL template where `{device}` and `{sensor}` are
         * replaced (URL-encoded), e.g. http://grafana:3000/d/gw/sensor?var-device={device}&var-sensor={sensor}.
         */
        grafanaUrl: z
          .string()
          .regex(/^https?:\/\/[^\s]+$/, 'must be an http:// or https:// URL (with {device} and {sensor} where they go)')
          .optional(),
        /** Units shown next to values on the operator page, by sensor name glob (the first match wins): `{ "temp*": "°C" }`. */
        units: z.record(z.string().min(1).max(256), z.string().min(1).max(16)).default({}),
        /**
         * Host names (beyond loopback names and IP literals) the admin server answers to: any other `Host` is
         * refused, so a page on a DNS-rebound name cannot drive the API (docs/operator-page.md).
         */
        allowedHosts: z
          .array(
            z
              .string()
              .regex(
                /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/,
                'must be a host name without port or scheme, e.g. gateway.example.com',
              ),
          )
          .max(100)
          .default([]),
        /** Largest request body (PUT /api/thresholds, the login form); larger ones are refused with 413 before they are read. */
        maxBodyBytes: size(1024).default(256 * 1024),
      })
      .prefault({}),
    durability: z
      .strictObject({
        sync: z.enum(['normal', 'full']).default('normal'),
        checkpointInterval: duration(100).default(5000),
        /** QoS 1 publishes arriving within this long are logged in one transaction (group commit), then acknowledged. */
        commitDelay: duration().default(2),
        /** Ingest log bounds: beyond either, a checkpoint is forced; while it cannot truncate the log, PUBACKs wait. */
        logMaxBytes: size(64 * 1024).default(64 * 1024 ** 2),
        logMaxAge: duration(1000).default(60_000),
      })
      .prefault({}),
    /**
     * Several gateways as one (docs/cluster.md): ingest publishes go to a NATS JetStream stream partitioned by
     * device, each partition is worked by one gateway at a time (a lease). Off: nothing of it is loaded.
     */
    cluster: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** This gateway's name among the others (lease owner); gatewayId, the `gateway` tag, is the same on all. */
        nodeId: id.optional(),
        nats: z
          .strictObject({
            servers: z.array(z.string().min(1)).min(1).default(['nats://127.0.0.1:4222']),
            user: z.string().min(1).optional(),
            password: z.string().min(1).optional(),
            token: z.string().min(1).optional(),
            /** A NATS credentials file (JWT + nkey seed). */
            creds: z.string().min(1).optional(),
            tls: z.strictObject({ ca: z.string().min(1).optional(), cert: z.string().min(1).optional(), key: z.string().min(1).optional() }).optional(),
          })
          .prefault({}),
        /** Fixed for the life of the stream: a device's partition is hash(device) mod partitions. */
        partitions: z.number().int().min(1).max(1024).default(64),
        /** Stream and KV replicas (1, 3 or 5 NATS servers hold each message). */
        replicas: z.number().int().min(1).max(5).default(3),
        /** A lease not renewed for this long is free to take (must exceed a JetStream leader election, a few seconds). */
        leaseTtl: duration(1000).default(10_000),
        /** The idle close of windows runs this far behind the clock (front ends' publish latency + clock skew). */
        idleGrace: duration().default(2000),
      })
      .prefault({}),
    sparkplug: z
      .strictObject({
        /** A skipped Sparkplug seq may still arrive this long before the edge node is asked to rebirth. */
        reorderTimeout: duration().default(2000),
        /** Wait before repeating an unanswered rebirth request; doubles each time up to rebirthBackoffMax. */
        rebirthBackoff: duration(100).default(5000),
        rebirthBackoffMax: duration(100).default(60_000),
        /** Primary host id: publishes retained spBv1.0/STATE/{hostId} (Sparkplug 3.0 section 4.2.3). Off when unset. A cluster is one primary host: the same on every gateway (docs/cluster.md). */
        hostId: z
          .string()
          .regex(/^[^/+#]{1,64}$/, 'must be 1-64 characters without / + #')
          .optional(),
      })
      .prefault({}),
    runtime: z
      .strictObject({
        /**
         * How far V8 lets the heap grow past the live data before its next full GC, in percent; 0 leaves it to
         * V8, which grows it up to 4x on a large machine (fastest, but 100k sensors then take ~1.4 GiB RSS).
         */
        heapGrowthPercent: z.number().int().min(0).max(300).default(50),
        /**
         * Nice value (Linux, per thread: setpriority(2)) of the threads whose work may wait, the checkpoint
         * writer and the WAL copiers (state.db, outbox.db), so that they take a core only when the broker and
         * gateway threads leave it; 0 leaves them as the process. Only raised, never lowered: needs no privilege.
         * Elsewhere ignored.
         */
        backgroundThreadNice: z.number().int().min(0).max(19).default(10),
        /**
         * Nice value (Linux, per thread) of Node's and V8's helper threads: concurrent marking, parallel GC
         * tasks, the optimising compiler, libuv's pool. 0 leaves them as the process. Raised only; elsewhere ignored.
         */
        helperThreadNice: z.number().int().min(0).max(19).default(10),
      })
      .prefault({}),
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).prefault({}),
  })
  .superRefine((c, ctx) => {
    if (c.mqtt.maxQueuedBytes < c.mqtt.maxPayloadBytes) {
      ctx.addIssue({ code: 'custom', path: ['mqtt', 'maxQueuedBytes'], message: 'must be at least mqtt.maxPayloadBytes (one message must fit)' });
    }
    if (c.cluster.enabled && c.cluster.nodeId === undefined) {
      ctx.addIssue({ code: 'custom', path: ['cluster', 'nodeId'], message: 'required when cluster.enabled (each gateway of the cluster needs its own)' });
    }
    const auth = [
      c.cluster.nats.user !== undefined || c.cluster.nats.password !== undefined,
      c.cluster.nats.token !== undefined,
      c.cluster.nats.creds !== undefined,
    ].filter(Boolean).length;
    if (auth > 1) ctx.addIssue({ code: 'custom', path: ['cluster', 'nats'], message: 'give one of user/password, token or creds' });
    if ((c.cluster.nats.user === undefined) !== (c.cluster.nats.password === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['cluster', 'nats', c.cluster.nats.user === undefined ? 'user' : 'password'],
        message: 'user and password go together',
      });
    }
    if (c.pipeline.dedupHorizon < c.pipeline.interval) {
      ctx.addIssue({ code: 'custom', path: ['pipeline', 'dedupHorizon'], message: 'must be at least pipeline.interval' });
    }
    // The admin server can rewrite the alert rules: reachable from other machines only behind a token.
    if (c.http.token === undefined && !isLoopbackHost(c.http.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['http', 'token'],
        message: `required when http.host is not a loopback address (${JSON.stringify(c.http.host)}): set a token of at least 16 characters, or bind to 127.0.0.1`,
      });
    }
  });

/** 127.0.0.0/8, ::1 and localhost: the admin server needs no token there (docs/operator-page.md). */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || h === '::ffff:127.0.0.1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export type GatewayConfigInput = z.input<typeof configSchema>;
export type GatewayConfig = z.output<typeof configSchema>;

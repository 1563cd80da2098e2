import type { RefusedReason } from './broker/limits.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric the gateway exposes on /metrics, in one place so names stay consistent with the docs.
 * One Registry per gateway instance: tests run several gateways in one process.
 */
export function createMetrics(registry = new Registry()) {
  // Hot paths count in plain fields and publish them into their counters here, when a counter is read
  // (scrape, stats report): prom-client's inc() costs a label-hash lookup per call.
  const collectHooks: (() => void)[] = [];
  const beforeCollect = () => {
    for (const hook of collectHooks) hook();
  };
  // The broker's own metrics may be counted in the broker thread (shared memory, broker/thread/broker-counters.ts).
  const brokerHooks: (() => void)[] = [];
  const beforeBrokerCollect = () => {
    for (const hook of brokerHooks) hook();
  };
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], collect: () => void = beforeCollect) =>
    new Counter<L>({ name, help, labelNames, registers: [registry], collect });
  const gauge = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], collect?: () => void) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
  // The turns of a periodic checkpoint by phase: buckets around the 2 ms a turn should stay under.
  const turnHistogram = (name: string, help: string) =>
    new Histogram<'phase'>({
      name,
      help,
      labelNames: ['phase'],
      buckets: [0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [registry],
    });

  return {
    registry,
    /** Registers `hook` to run before any counter is read; it should `inc()` what it counted since last time. */
    onCollect: (hook: () => void): void => {
      collectHooks.push(hook);
    },
    /** Registers `hook` to run before a broker metric is read (it moves the broker thread's counts in). */
    onBrokerCollect: (hook: () => void): void => {
      brokerHooks.push(hook);
    },
    messagesReceived: counter('gateway_messages_received_total', 'MQTT publishes received on ingest topics'),
    messagesRejected: counter('gateway_messages_rejected_total', 'Ingest messages (or array elements) rejected, by reason', ['reason']),
    readingsAccepted: counter('gateway_readings_accepted_total', 'Readings that passed validation and dedup and entered a window'),
    readingsDuplicate: counter('gateway_readings_duplicate_total', 'Readings dropped as duplicates within the dedup horizon'),
    readingsLate: counter('gateway_readings_late_total', 'Readings dropped because their window is beyond the correction horizon'),
    windowsEmitted: counter('gateway_windows_emitted_total', 'Window aggregates emitted (including corrections)'),
    windowsCorrected: counter('gateway_windows_corrected_total', 'Re-emissions of an already emitted window after late data'),
    pointsWritten: counter('gateway_points_written_total', 'Points acknowledged by InfluxDB'),
    influxUp: gauge('gateway_influx_up', '1 when the last InfluxDB request succeeded, else 0'),
    outboxPoints: gauge('gateway_outbox_points', 'Points waiting in the outbox'),
    outboxBytes: gauge('gateway_outbox_bytes', 'Bytes of points waiting in the outbox'),
    outboxOldestAge: gauge('gateway_outbox_oldest_age_seconds', 'Age of the oldest batch waiting in the outbox'),
    outboxRetried: counter('gateway_outbox_retried_points_total', 'Points whose send failed with a retryable error and stay queued'),
    outboxDeadLettered: counter('gateway_outbox_dead_lettered_points_total', 'Points InfluxDB refused permanently, moved to the dead-letter table'),
    outboxDropped: counter('gateway_outbox_dropped_points_total', 'Points dropped because the outbox reached buffer.maxBytes'),
    alertsFired: counter('gateway_alerts_fired_total', 'Alerts that went to firing', ['rule', 'severity']),
    rulesReloads: counter('gateway_rules_reloads_total', 'Rules file reloads, by result', ['result']),
    alertsSilenced: counter('gateway_alerts_silenced_total', 'Alert state changes not published because their rule was silenced (operator page)', ['rule']),
    devicesReloads: counter('gateway_devices_reloads_total', 'Devices file reloads while running, by result (applied, invalid: the previous registry stays)', [
      'result',
    ]),
    adminRejected: counter(
      'gateway_admin_rejected_total',
      'Admin HTTP requests refused, by reason: host, origin, login_throttled, body_too_large, media_type, invalid_body (admin server); bad input to the operator page APIs (silences, rule versions, dry runs, stored history) by their own reasons',
      ['reason'],
    ),
    authFailures: counter('gateway_auth_failures_total', 'Refused connections, publishes and subscriptions, by reason', ['reason'], beforeBrokerCollect),
    connectedClients: gauge('gateway_mqtt_clients', 'MQTT clients connected', [], beforeBrokerCollect),
    brokerHeld: counter(
      'gateway_broker_held_total',
      'Publishes the broker thread held back because the gateway thread had not yet taken the previous ones (backpressure: the client waits, nothing is dropped)',
      [],
      beforeBrokerCollect,
    ),
    mqttRefused: counter(
      'gateway_mqtt_refused_total',
      'Connections closed and subscriptions refused by the broker limits, by reason',
      ['reason'],
      beforeBrokerCollect,
    ),
    ingestLogEntries: gauge('gateway_ingest_log_entries', 'QoS 1 publishes in the ingest log (acknowledged, not yet covered by a checkpoint)'),
    ingestLogBytes: gauge('gateway_ingest_log_bytes', 'Topic + payload bytes in the ingest log'),
    ingestLogReplayed: counter('gateway_ingest_log_replayed_total', 'Logged publishes replayed at start after a crash'),
    ingestHeld: gauge('gateway_ingest_held', 'QoS 1 publishes waiting for a free ingest log (backpressure: PUBACK withheld)'),
    checkpointPauseMax: gauge(
      'gateway_checkpoint_pause_max_seconds',
      'Longest event-loop turn a periodic checkpoint has held since start (its beginning, a slice, the save; the WAL copy runs on a worker thread): the pause every publish arriving meanwhile waits for',
    ),
    checkpoints: counter('gateway_checkpoints_total', 'State checkpoints, by result', ['result']),
    databasesMovedAside: counter(
      'gateway_databases_moved_aside_total',
      'SQLite files moved aside at start and replaced by a fresh one (their data is not forwarded), by database and reason (corrupt, unknown)',
      ['database', 'reason'],
    ),
    // A checkpoint runs on the event loop: its time is a pause for every publish arriving meanwhile.
    checkpointSeconds: new Histogram<'phase'>({
      name: 'gateway_checkpoint_seconds',
      help: "Checkpoint phases: event-loop pauses capture (begin), slice (each slice of the capture of the changed devices), outbox (commit emitted windows), save (hand-over to the writer thread, or the whole save of a stop); and write, the writer thread's state.db commit (not a pause)",
      labelNames: ['phase'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    // Every event-loop turn of a periodic checkpoint; the longest is gateway_checkpoint_pause_max_seconds.
    checkpointTurnSeconds: turnHistogram(
      'gateway_checkpoint_turn_seconds',
      'Event-loop turns of the periodic checkpoints, by phase: begin (settle the previous save, begin the capture, seal the emitted windows, a first slice), outbox (commit the sealed windows), slice, finish (the last slice, finish, hand-over to the writer thread)',
    ),
    // The same turns less the gateway thread's waits for a core inside them (Linux only).
    checkpointTurnRunningSeconds: turnHistogram(
      'gateway_checkpoint_turn_running_seconds',
      'The event-loop turns of gateway_checkpoint_turn_seconds less the time the gateway thread waited for a core inside them (/proc/thread-self/schedstat, Linux only): what the checkpoint and the garbage collector took, without the share of the cores other threads and processes had',
    ),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Values of gateway_auth_failures_total{reason}. */
export type AuthFailureReason =
  'bad_password' | 'unknown_device' | 'anonymous_refused' | 'certificate_refused' | 'client_id_taken' | 'publish_denied' | 'subscribe_denied';

/**
 * The metrics the broker side counts (broker/, auth/). In the broker thread (broker/thread/) they are forwarded
 * to the gateway's registry, so they are typed by what the broker calls, not as prom-client objects.
 */
export interface BrokerMetrics {
  readonly authFailures: { inc(labels: { reason: AuthFailureReason }, n?: number): void };
  readonly mqttRefused: { inc(labels: { reason: RefusedReason }, n?: number): void };
  readonly connectedClients: { inc(): void; dec(): void };
  /** Broker thread only: a publish waited for room in the ring. */
  readonly brokerHeld?: { inc(n: number): void };
}

export function enableProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'gateway_process_' });
}

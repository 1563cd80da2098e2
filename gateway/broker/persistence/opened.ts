import type { LevelPersistence } from 'aedes-persistence-level';

/** What open.ts hands aedes, and what the LevelDB store (level.ts, loaded only with mqtt.sessions disk) gives it. */
export interface OpenedPersistence {
  /** For aedes' `persistence` option; undefined = aedes' in-memory default. */
  readonly persistence: LevelPersistence | undefined;
  close(): Promise<void>;
}

export interface SessionLimits {
  /** mqtt.maxQueuedPerSession: messages stored for one persistent session (bounded-queues.ts). */
  readonly maxQueuedPerSession: number;
  /** Counts a message a full session did not get (gateway_mqtt_refused_total{reason="session_queue_full"}). */
  readonly onQueueFull: () => void;
}

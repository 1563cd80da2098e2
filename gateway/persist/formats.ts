/**
 * Every format the gateway keeps on disk, with its version: the one table to change when a layout changes.
 * A reader refuses any version but its own (a snapshot is then dropped and the state starts empty, a database is
 * moved aside: see sqlite.ts); the partition checkpoint also reads its version 1 (cluster/checkpoints.ts), since
 * dropping it would lose the partition's state where the stream no longer holds it.
 */

/** A binary blob written with frame.ts: 4 ASCII magic bytes, a version byte, the layout, a CRC-32 trailer. */
export interface BlobFormat {
  /** Named in errors: "not a {name}". */
  readonly name: string;
  readonly magic: string;
  readonly version: number;
}

/** A SQLite file: its schema version lives in PRAGMA user_version (SQLite docs, "PRAGMA user_version"). */
export interface DatabaseFormat {
  readonly name: string;
  readonly userVersion: number;
}

export const FORMATS = {
  /** The pipeline's state: dedup keys, open and sealed windows (pipeline/snapshot-binary.ts). */
  pipelineSnapshot: { name: 'binary pipeline snapshot', magic: 'GWPS', version: 1 },
  /** One device's pipeline state, a row of an incremental checkpoint (pipeline/snapshot-rows.ts). */
  pipelineRow: { name: 'pipeline device row', magic: 'GWPD', version: 1 },
  /** A chunk of one sensor's retained windows, a row of an incremental checkpoint (pipeline/snapshot-rows.ts). */
  pipelineChunk: { name: 'pipeline retained windows chunk', magic: 'GWPK', version: 1 },
  /** A checkpoint part kept as rows (a head and one row per device) read back as one blob (persist/rows.ts). */
  checkpointRows: { name: 'checkpoint rows', magic: 'GWRW', version: 1 },
  /** The alert engine's state and the firing events (alerts/snapshot-binary.ts). */
  alertSnapshot: { name: 'binary alert snapshot', magic: 'GWAS', version: 1 },
  /** The Sparkplug host's edge node sessions, devices, alias maps and what is in flight (sparkplug/host-snapshot.ts). */
  sparkplugSnapshot: { name: 'binary sparkplug host snapshot', magic: 'GWSP', version: 1 },
  /** `{buffer.dir}/outbox.db`: batches with their series cuts, dead letters (outbox/sqlite-store.ts). */
  outboxDatabase: { name: 'outbox', userVersion: 1 },
  /** `{buffer.dir}/state.db`: the checkpoint and the ingest log (state/sqlite-state.ts). */
  stateDatabase: { name: 'state', userVersion: 1 },
  /** A cluster partition's checkpoint in the KV bucket: stream sequence + the three snapshots above (cluster/checkpoints.ts). */
  partitionCheckpoint: { name: 'partition checkpoint', magic: 'GWCP', version: 1 },
} as const satisfies Record<string, BlobFormat | DatabaseFormat>;

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort } from './influxd.js';
import { waitFor } from './wait.js';

/** Debian's nats-server (2.9.10 on the CI image; `.ci/run` installs it). */
export const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface NatsNode {
  readonly name: string;
  readonly clientPort: number;
  readonly url: string;
  readonly pid: number | undefined;
  running(): boolean;
}

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** Every node's client URL (what a gateway's `cluster.nats.servers` lists). */
  readonly urls: string[];
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped node again with its store folder (it catches up from the others). */
  restart(i: number): Promise<void>;
  /** The node name (server_name) leading a stream's RAFT group. */
  streamLeader(stream: string): Promise<string | undefined>;
  stop(): Promise<void>;
}

interface Slot {
  name: string;
  clientPort: number;
  clusterPort: number;
  conf: string;
  child: ChildProcess | undefined;
  output: string;
}

/**
 * A NATS cluster of `size` nats-server processes with JetStream, each on free loopback ports with its store in a
 * temporary folder (removed by stop()). Resolves once JetStream has a meta leader, so streams can be created.
 */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'nats-cluster-'));
  const slots: Slot[] = [];
  for (let i = 0; i < size; i++)
    slots.push({ name: `n${i + 1}`, clientPort: await freePort(), clusterPort: await freePort(), conf: '', child: undefined, output: '' });
  for (const s of slots) {
    const store = join(dir, s.name);
    mkdirSync(store, { recursive: true });
    const routes = slots.filter((o) => o !== s).map((o) => `nats-route://127.0.0.1:${o.clusterPort}`);
    s.conf = join(dir, `${s.name}.conf`);
    writeFileSync(
      s.conf,
      [
        `server_name: ${s.name}`,
        `listen: 127.0.0.1:${s.clientPort}`,
        `jetstream { store_dir: "${store}", max_memory_store: 64MB, max_file_store: 1GB }`,
        // One server: JetStream stand-alone (replicas 1); more: a cluster with routes to every other server.
        size > 1 ? `cluster { name: test, listen: 127.0.0.1:${s.clusterPort}, routes: [${routes.join(', ')}] }` : '',
        '',
      ].join('\n'),
    );
  }
  const launch = (s: Slot) => {
    const child = spawn(NATS_SERVER, ['-c', s.conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    child.once('exit', () => live.delete(child));
    const keep = (b: Buffer) => {
      s.output = (s.output + b.toString()).slice(-20_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    s.child = child;
  };
  for (const s of slots) launch(s);
  const urls = slots.map((s) => `nats://127.0.0.1:${s.clientPort}`);
  const ready = async () => {
    await waitFor(
      'a JetStream meta leader',
      async () => {
        const nc = await connect({ servers: urls.filter((_, i) => slots[i]!.child?.exitCode === null), reconnect: false, timeout: 2000 });
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2000 });
          await jsm.getAccountInfo();
          return true;
        } finally {
          await nc.close();
        }
      },
      60_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${slots.map((s) => `--- ${s.name}\n${s.output.slice(-3000)}`).join('\n')}`);
    });
  };
  await ready();

  const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));
  return {
    nodes: slots.map((s) => ({
      name: s.name,
      clientPort: s.clientPort,
      url: `nats://127.0.0.1:${s.clientPort}`,
      get pid() {
        return s.child?.pid;
      },
      running: () => s.child !== undefined && s.child.exitCode === null && s.child.signalCode === null,
    })),
    urls,
    async kill(i, signal = 'SIGKILL') {
      const c = slots[i]!.child;
      if (c === undefined) return;
      c.kill(signal);
      await exited(c);
    },
    async restart(i) {
      launch(slots[i]!);
      await ready();
    },
    async streamLeader(stream) {
      const nc = await connect({ servers: urls.filter((_, i) => slots[i]!.child?.exitCode === null && slots[i]!.child?.signalCode === null), timeout: 2000 });
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info(stream);
        return info.cluster?.leader;
      } finally {
        await nc.close();
      }
    },
    async stop() {
      await Promise.all(
        slots.map(async (s) => {
          if (s.child === undefined) return;
          s.child.kill('SIGTERM');
          await exited(s.child);
        }),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

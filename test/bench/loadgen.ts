/**
 * Raw-socket MQTT load generator, run in a child process so the bench's own process stays free for timing
 * (latency subscriber, scrapes) and the generator gets a core of its own. Many connections, each cycling over its own devices; every PUBLISH is a
 * pre-encoded template with ts, seq, packet id and a few value digits patched in place, so a message costs
 * the generator a memcpy and ~30 byte stores.
 *
 * Payload: {"ts":<13 digits>,"seq":<10 digits>,"readings":{"a":2d.dd,"b":4d.d,"c":10dd.d}} (3 readings).
 * Each device's ts advances by `stepMs` per message from `t0`, so every reading is new to dedup.
 *
 * QoS 1: every PUBACK is matched to its PUBLISH by packet id (the send time is that of the write that carried
 * it), and each `stats` answer carries the publish -> PUBACK latency percentiles of the PUBACKs received since
 * the previous one, so the caller brackets its measuring window with two `stats()` calls.
 *
 * devices/sim's createFleet (MQTT.js, one client per device) is the realistic simulator; this is the fast one.
 */
import { connect, type Socket } from 'node:net';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connectPacket, publishPacket, writeDigits, type PublishTemplate } from '../support/mqtt-wire.js';
import { sparkplugData, sparkplugDevice, type SparkplugDevice } from './sparkplug-load.js';

export interface LoadOptions {
  readonly port: number;
  readonly connections: number;
  /** Devices in all; spread round-robin over the connections. */
  readonly devices: number;
  readonly qos: 0 | 1;
  /** Messages per second in all; 0 = as fast as the server takes them. */
  readonly rate: number;
  readonly t0: number;
  readonly stepMs: number;
  /** QoS 1: unacknowledged publishes allowed per connection. */
  readonly inflight?: number;
  readonly devicePrefix?: string;
  /**
   * Paced load: at most this many publishes per socket write (default: as many as the pacing gives a connection
   * per tick). 1 = one publish per write, as sensors that publish one reading at a time send them.
   */
  readonly perWrite?: number;
  /** Sparkplug B DDATA with SPARKPLUG_METRICS metrics instead of the JSON telemetry (sparkplug-load.ts). */
  readonly sparkplug?: boolean;
}

export interface LoadStats {
  readonly sent: number;
  readonly acked: number;
  readonly errors: number;
  /** CPU seconds the generator process used so far. */
  readonly cpuSeconds: number;
  /** QoS 1: publish -> PUBACK over the PUBACKs received since the previous stats() call. */
  readonly ack?: AckLatency;
}

export interface AckLatency {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface LoadHandle {
  /** The generator's process (sched-trace.ts tells its threads from the server's). */
  readonly pid: number | undefined;
  stats(): Promise<LoadStats>;
  /** Changes the rate from now on (msg/s in all; 0 = as fast as the server takes them); answers with the stats at the switch. */
  setRate(rate: number): Promise<LoadStats>;
  stop(): Promise<LoadStats>;
  /** Stops after every publish counted as sent has been written to its socket (exact counts for tests). */
  finish(): Promise<LoadStats>;
}

const HIGH_WATER = 128 * 1024;
const CHUNK = 64;

interface Conn {
  socket: Socket;
  templates: PublishTemplate[];
  counts: number[];
  next: number;
  sent: number;
  ackBytes: number;
  nextId: number;
  waiting: boolean;
  /** performance.now() of the write that carried each packet id. */
  sentAt: Float64Array;
  idHigh: number;
  /** Sparkplug mode: the devices' births and DDATA templates. */
  sp: SparkplugDevice[] | undefined;
}

/** PUBACK latencies (ms) since the last stats answer. */
let ackSamples: number[] = [];

function percentiles(xs: number[]): AckLatency | undefined {
  if (xs.length === 0) return undefined;
  const a = Float64Array.from(xs).sort();
  const at = (q: number) => a[Math.min(a.length - 1, Math.floor(q * a.length))]!;
  return { count: a.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: a[a.length - 1]! };
}

const TEMPLATE = '{"ts":0000000000000,"seq":1000000000,"readings":{"a":20.00,"b":40.0,"c":1000.0}}';
const TS_AT = TEMPLATE.indexOf('"ts":') + 5;
const SEQ_AT = TEMPLATE.indexOf('"seq":') + 6;
const A_AT = TEMPLATE.indexOf('"a":') + 4;
const C_AT = TEMPLATE.indexOf('"c":') + 4;

/** Sparkplug mode: n DDATA packets, built from the devices' templates (seq and timestamp patched). */
function fillSparkplug(c: Conn, sp: SparkplugDevice[], opts: LoadOptions, n: number): Buffer {
  const parts: Buffer[] = [];
  const now = performance.now();
  for (let i = 0; i < n; i++) {
    const d = c.next;
    c.next = d + 1 === sp.length ? 0 : d + 1;
    const k = c.counts[d]!++;
    const { bytes, idAt } = sparkplugData(sp[d]!, k, opts.t0 + k * opts.stepMs);
    if (idAt >= 0) {
      const id = c.nextId;
      c.nextId = id === 65535 ? 1 : id + 1;
      bytes[idAt] = id >> 8;
      bytes[idAt + 1] = id & 0xff;
      c.sentAt[id] = now;
    }
    parts.push(bytes);
  }
  c.sent += n;
  return Buffer.concat(parts);
}

function fill(c: Conn, opts: LoadOptions, n: number): Buffer {
  if (c.sp !== undefined) return fillSparkplug(c, c.sp, opts, n);
  const len = c.templates[0]!.bytes.length;
  const chunk = Buffer.allocUnsafe(len * n);
  const now = performance.now();
  for (let i = 0; i < n; i++) {
    const d = c.next;
    c.next = d + 1 === c.templates.length ? 0 : d + 1;
    const t = c.templates[d]!;
    const at = i * len;
    t.bytes.copy(chunk, at);
    const k = c.counts[d]!++;
    const p = at + t.payloadAt;
    writeDigits(chunk, p + TS_AT, 13, opts.t0 + k * opts.stepMs);
    writeDigits(chunk, p + SEQ_AT, 10, 1_000_000_000 + k);
    writeDigits(chunk, p + A_AT + 1, 1, k % 10);
    writeDigits(chunk, p + A_AT + 3, 2, (k * 7) % 100);
    writeDigits(chunk, p + C_AT + 2, 2, (k * 13) % 100);
    if (t.idAt >= 0) {
      const id = c.nextId;
      c.nextId = id === 65535 ? 1 : id + 1;
      chunk[at + t.idAt] = id >> 8;
      chunk[at + t.idAt + 1] = id & 0xff;
      c.sentAt[id] = now;
    }
  }
  c.sent += n;
  return chunk;
}

async function openConn(opts: LoadOptions, index: number, devices: string[]): Promise<Conn> {
  const socket = connect({ port: opts.port, host: '127.0.0.1', noDelay: true });
  const c: Conn = {
    socket,
    templates: devices.map((d) => publishPacket(`devices/${d}/telemetry`, TEMPLATE, opts.qos)),
    counts: devices.map(() => 0),
    next: 0,
    sent: 0,
    ackBytes: -4, // the CONNACK is 4 bytes too; PUBACKs are 4 bytes each
    nextId: 1,
    waiting: false,
    sentAt: new Float64Array(65536),
    idHigh: 0,
    sp: opts.sparkplug ? devices.map((d) => sparkplugDevice(d, opts.qos, opts.t0)) : undefined,
  };
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('data', () => resolve());
    socket.write(connectPacket(`bench-${process.pid}-${index}`));
  });
  // Everything after CONNACK is PUBACKs (we subscribe to nothing): 4 bytes each, [0x40, 2, id high, id low],
  // so the byte's offset in the stream says what it is, whatever the chunking.
  socket.on('data', (b: Buffer) => {
    if (opts.qos === 1) {
      const now = performance.now();
      for (let i = 0; i < b.length; i++) {
        const m = (c.ackBytes + i) & 3;
        if (m === 2) c.idHigh = b[i]!;
        else if (m === 3) ackSamples.push(now - c.sentAt[(c.idHigh << 8) | b[i]!]!);
      }
    }
    c.ackBytes += b.length;
  });
  c.ackBytes += 4;
  // Births first (QoS 0: no PUBACK to count), in the same stream as the DDATA that follows.
  if (c.sp !== undefined) socket.write(Buffer.concat(c.sp.map((d) => d.births)));
  return c;
}

type Post = (m: unknown) => void;

async function run(opts: LoadOptions): Promise<void> {
  const post: Post = (m) => process.send!(m);
  const prefix = opts.devicePrefix ?? 'dev-';
  const names = Array.from({ length: opts.devices }, (_, i) => `${prefix}${String(i).padStart(6, '0')}`);
  const conns: Conn[] = [];
  let errors = 0;
  for (let i = 0; i < opts.connections; i++) {
    const mine = names.filter((_, d) => d % opts.connections === i);
    if (mine.length === 0) break;
    const c = await openConn(opts, i, mine);
    c.socket.on('error', () => errors++);
    conns.push(c);
  }
  const inflight = opts.inflight ?? 200;
  // The pacing's origin: the rate and the start of its count move when the caller changes the rate.
  let rate = opts.rate;
  let started = performance.now();
  let sentAtStart = 0;
  let stopped = false;
  const sentTotal = () => conns.reduce((n, c) => n + c.sent, 0);
  const ackedTotal = () => conns.reduce((n, c) => n + (opts.qos === 1 ? Math.floor(c.ackBytes / 4) : c.sent), 0);
  const stats = (): LoadStats => {
    const cpu = process.cpuUsage();
    const ack = percentiles(ackSamples);
    ackSamples = [];
    return { sent: sentTotal(), acked: ackedTotal(), errors, cpuSeconds: (cpu.user + cpu.system) / 1e6, ...(ack ? { ack } : {}) };
  };

  // The connection a paced tick starts with moves on each tick, so a budget smaller than the connections is
  // spread over all of them rather than always given to the first few.
  let first = 0;
  const perWrite = opts.perWrite ?? Infinity;
  const pump = () => {
    if (stopped) return;
    let budget = Infinity;
    if (rate > 0) budget = Math.floor(((performance.now() - started) / 1000) * rate) - (sentTotal() - sentAtStart);
    let progress = false;
    first = first + 1 >= conns.length ? 0 : first + 1;
    for (let i = 0; i < conns.length; i++) {
      const c = conns[(first + i) % conns.length]!;
      if (budget <= 0) break;
      if (c.socket.writableLength >= HIGH_WATER) continue;
      let n = CHUNK;
      if (opts.qos === 1) n = Math.min(n, inflight - (c.sent - Math.floor(c.ackBytes / 4)));
      if (rate > 0) n = Math.min(n, Math.ceil(budget / conns.length), budget);
      if (n <= 0) continue;
      for (let left = n; left > 0; left -= perWrite) c.socket.write(fill(c, opts, Math.min(left, perWrite)));
      budget -= n;
      progress = true;
    }
    if (rate > 0 && budget <= 0) setTimeout(pump, 1);
    else if (progress) setImmediate(pump);
    else setTimeout(pump, opts.qos === 1 ? 0 : 1);
  };
  process.on('message', (m: { type: string; rate?: number }) => {
    if (m.type === 'stats') post({ type: 'stats', stats: stats() });
    if (m.type === 'rate') {
      rate = m.rate ?? 0;
      started = performance.now();
      sentAtStart = sentTotal();
      post({ type: 'stats', stats: stats() });
    }
    if (m.type === 'stop') {
      stopped = true;
      const s = stats();
      for (const c of conns) c.socket.destroy();
      post({ type: 'stopped', stats: s });
      setTimeout(() => process.exit(0), 50);
    }
    if (m.type === 'finish') {
      // Every publish counted as sent is handed to the kernel before the answer (destroy would drop what Node still buffers).
      stopped = true;
      const s = stats();
      void Promise.all(conns.map((c) => new Promise<void>((resolve) => c.socket.end(resolve)))).then(() => {
        post({ type: 'stopped', stats: s });
        setTimeout(() => process.exit(0), 50);
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
  post({ type: 'ready' });
  pump();
}

/** Connects every generator connection, then starts sending; resolves once all are connected. */
export async function startLoad(opts: LoadOptions): Promise<LoadHandle> {
  const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(opts)], { execArgv: ['--import', 'tsx'], env: { ...process.env, BENCH_LOADGEN: '1' } });
  let waiter: ((s: LoadStats) => void) | undefined;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`load generator exited with ${code}`)));
    child.on('message', (m: { type: string; stats?: LoadStats }) => {
      if (m.type === 'ready') resolve();
      else if (m.stats && waiter) {
        const w = waiter;
        waiter = undefined;
        w(m.stats);
      }
    });
  });
  const ask = (type: string, rate?: number) =>
    new Promise<LoadStats>((resolve) => {
      waiter = resolve;
      child.send({ type, ...(rate === undefined ? {} : { rate }) });
    });
  return {
    pid: child.pid,
    stats: () => ask('stats'),
    setRate: (rate) => ask('rate', rate),
    async stop() {
      const s = await ask('stop');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      return s;
    },
    async finish() {
      const s = await ask('finish');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
      return s;
    },
  };
}

if (process.env.BENCH_LOADGEN === '1' && process.send !== undefined && process.argv[2] !== undefined) {
  run(JSON.parse(process.argv[2]) as LoadOptions).catch((err: unknown) => {
    process.stderr.write(`load generator: ${String(err)}\n`);
    process.exit(1);
  });
}

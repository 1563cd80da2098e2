import type { Worker } from 'node:worker_threads';
import type { GatewayConfig } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { CounterMirror, createCounterBuffer } from './broker-counters.js';
import { maxPacketBytes } from '../limits.js';
import type { BrokerFront, GatewayPublish, IngestGate, PublishRelay } from '../front.js';
import type { BrokerThreadData, FromBroker, ListeningPorts, ToBroker } from './protocol.js';
import { createRingBuffers, RingReader } from './publish-ring.js';
import { BrokerWorker } from './worker-start.js';

export interface BrokerThreadDeps {
  readonly log: Logger;
  readonly metrics: Pick<Metrics, 'authFailures' | 'mqttRefused' | 'connectedClients' | 'brokerHeld' | 'onBrokerCollect'>;
  /** The gateway's gate for each ingest publish (DurableState.accept), called on this thread. */
  readonly gate: IngestGate;
  /** Cluster mode: client publishes on non-ingest topics, handed over by the thread (protocol.ts `relay`). */
  readonly relay?: PublishRelay;
  readonly now: () => number;
  /** The thread died while the gateway runs (not by close()): no MQTT any more, the gateway should stop. */
  readonly onFailure?: (err: Error) => void;
  /** The thread, started early by main.ts (worker-start.ts); without it, one is started here. */
  readonly worker?: BrokerWorker;
}

/** Records read per turn of the event loop before timers, sockets and the outbox get their turn. */
const BATCH = 256;
const TURN_MS = 4;
/**
 * After a turn that read records, the reader naps this long (ms) and looks again instead of sleeping on the ring.
 * A sleeping reader costs a wake-up per publish when publishes come one per socket read (sensors sending one
 * reading at a time): an `Atomics.notify` on the broker thread and a platform task, an event-loop turn and a
 * promise on this one, 20-30 % of both threads' CPU at 10k paced publishes/s (BENCHMARKS.md, paced capacity).
 * The nap is a futex wait with a timeout that the writer does not end (it sees no sleeper and notifies nobody), so
 * it is as precise as the kernel's timers: what arrived meanwhile is taken in one turn, at most ~4,000 naps a
 * second, and a publish waits 0.125 ms on average for the reader. A 1 ms timer, the finest Node's event loop has,
 * made that 0.5 ms and added 0.6 ms to the alert's p50 (BENCHMARKS.md, "The reader naps"). The nap blocks this
 * thread's event loop, so it is kept short, and it comes after the loop's other work (setImmediate). A look that
 * finds nothing sleeps on the ring, so an idle gateway makes no turns and the first publish after a pause is woken
 * at once.
 */
const NAP_MS = 0.25;

class BrokerThreadError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/**
 * The gateway's side of the broker thread (broker-worker.ts): starts it, reads the publish ring on this thread
 * and feeds each publish to the gate, sends acknowledgements back in batches, relays the thread's logs and
 * counters, and publishes the gateway's own messages through it.
 */
export class BrokerThread implements BrokerFront {
  private readonly worker: Worker;
  private readonly reader: RingReader;
  private readonly counters: CounterMirror;
  private readonly replies = new Map<number, (err?: Error) => void>();
  private nextPublish = 1;
  private acks: number[] = [];
  private acksScheduled = false;
  private pumping = false;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private readonly ready: Promise<void>;
  private listening: ((m: FromBroker) => void) | undefined;
  private closed: (() => void) | undefined;
  private failed: Error | undefined;

  constructor(
    config: GatewayConfig,
    private readonly deps: BrokerThreadDeps,
  ) {
    // An empty ring takes any record up to half its size: four of the largest packets the listeners let through
    // (with a longest topic), and at least 8 MiB of small ones in flight.
    const capacity = Math.max(8 << 20, (4 * (maxPacketBytes(config.mqtt.maxPayloadBytes) + 65_552) + 3) & ~3);
    const ring = createRingBuffers(capacity);
    this.reader = new RingReader(ring);
    const counters = createCounterBuffer();
    const mirror = (this.counters = new CounterMirror(counters, deps.metrics));
    deps.metrics.onBrokerCollect(() => mirror.sync());
    const data: BrokerThreadData = { config, ring, counters, logLevel: deps.log.level, relay: deps.relay !== undefined };
    const { worker, failed } = (deps.worker ?? new BrokerWorker()).take();
    this.worker = worker;
    this.ready = new Promise((resolve, reject) => {
      this.worker.on('message', (m: FromBroker) => {
        if (m.t === 'ready') resolve();
        else if (m.t === 'failed') reject(new BrokerThreadError(m.message, m.code));
        else this.onMessage(m);
      });
      const fail = (err: Error) => {
        const first = this.failed === undefined;
        this.failed ??= err;
        reject(err);
        this.listening?.({ t: 'listen-failed', message: err.message });
        this.settle();
        if (first && this.closing === undefined) {
          deps.log.error({ err }, 'broker thread failed');
          deps.onFailure?.(err);
        }
      };
      this.worker.on('error', fail);
      this.worker.on('exit', (code) => fail(new Error(`broker thread exited with code ${code}`)));
      if (failed) fail(failed);
    });
    // The thread has loaded (or is loading) its modules and waits for this before it builds anything.
    this.send({ t: 'init', data });
    // Awaited by started(), which the gateway calls after restoring its state: a thread that fails meanwhile must
    // not be an unhandled rejection (started() still rejects with it).
    this.ready.catch(() => undefined);
  }

  /** Resolves once aedes and the auth hooks exist in the thread. */
  async started(): Promise<void> {
    await this.ready;
    this.pump();
  }

  get connectedClients(): number {
    return this.counters.clients;
  }

  listen(): Promise<ListeningPorts> {
    return new Promise((resolve, reject) => {
      this.listening = (m) => {
        this.listening = undefined;
        if (m.t === 'listening') resolve(m.ports);
        else if (m.t === 'listen-failed') reject(new BrokerThreadError(m.message, m.code));
      };
      this.send({ t: 'listen' });
    });
  }

  publish(packet: GatewayPublish, done: (err?: Error) => void): void {
    if (this.stopped || this.failed) return done(new Error('broker is closed'));
    const id = this.nextPublish++;
    this.replies.set(id, done);
    // A copy of its own: a pooled Buffer would be cloned with its whole pool.
    this.send({ t: 'publish', id, topic: packet.topic, payload: new Uint8Array(packet.payload), qos: packet.qos, retain: packet.retain });
  }

  /** Closes the listeners and the broker, then takes the publishes still in the ring. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ready.catch(() => undefined);
      if (!this.failed) {
        await new Promise<void>((resolve) => {
          this.closed = resolve;
          this.send({ t: 'close' });
        });
      }
      this.stopped = true;
      this.drain(Infinity);
      this.flushAcks();
      this.reader.wake();
      await this.worker.terminate();
      this.settle();
    })();
    return this.closing;
  }

  /** The thread is gone: nobody will answer what waits for it. */
  private settle(): void {
    this.closed?.();
    for (const done of this.replies.values()) done(new Error('broker is closed'));
    this.replies.clear();
  }

  private send(m: ToBroker): void {
    this.worker.postMessage(m);
  }

  private onMessage(m: FromBroker): void {
    switch (m.t) {
      case 'log':
        this.relayLog(m.line);
        break;
      case 'published': {
        const done = this.replies.get(m.id);
        this.replies.delete(m.id);
        done?.(m.error === undefined ? undefined : new Error(m.error));
        break;
      }
      case 'relay': {
        const payload = Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
        const id = m.ackId;
        this.deps.relay?.(m.topic, payload, m.qos, m.retain, (err) => this.ack(id, err));
        break;
      }
      case 'listening':
      case 'listen-failed':
        this.listening?.(m);
        break;
      case 'closed':
        this.closed?.();
        break;
    }
  }

  private relayLog(line: string): void {
    const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg?: string } & Record<string, unknown>;
    const log = this.deps.log;
    const name = log.levels.labels[level] ?? 'info';
    const fn = (log as unknown as Record<string, (obj: object, msg?: string) => void>)[name];
    fn?.call(log, fields, msg);
  }

  /**
   * Reads the ring while it has records, a few ms per turn; naps NAP_MS and looks again when the turn read any,
   * and sleeps on the ring when a turn finds it empty.
   */
  private pump(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    const turn = () => {
      if (this.stopped) return;
      const read = this.drain(TURN_MS);
      this.flushAcks();
      if (read === FULL) setImmediate(turn);
      else if (read > 0) setImmediate(napThenTurn);
      else this.reader.waitForRecords().then(turn, turn);
    };
    const napThenTurn = () => {
      if (this.stopped) return;
      this.reader.nap(NAP_MS);
      turn();
    };
    turn();
  }

  /** Reads records for up to `ms`: how many, or FULL when it stopped with records left. */
  private drain(ms: number): number {
    const t0 = performance.now();
    let read = 0;
    for (;;) {
      const n = this.reader.read(BATCH, this.onRecord);
      read += n;
      if (n < BATCH) return read;
      if (performance.now() - t0 >= ms) return FULL;
    }
  }

  private readonly onRecord = (topic: string, payload: Buffer, qos: number, ackId: number): void => {
    const receivedAt = this.deps.now();
    if (ackId === 0) return this.deps.gate(topic, payload, qos, receivedAt, noop);
    // The gate may keep a QoS 1 publish past this call (group commit): it gets its own copy of the payload.
    this.deps.gate(topic, Buffer.from(payload), qos, receivedAt, (err) => this.ack(ackId, err));
  };

  private ack(id: number, err?: Error | null): void {
    if (err) return this.send({ t: 'nack', id, message: err.message });
    this.acks.push(id);
    if (!this.acksScheduled) {
      this.acksScheduled = true;
      setImmediate(() => this.flushAcks());
    }
  }

  private flushAcks(): void {
    this.acksScheduled = false;
    if (this.acks.length === 0 || this.failed) return;
    this.send({ t: 'acks', ids: this.acks });
    this.acks = [];
  }
}

const noop = () => {};
/** drain(): stopped with records left in the ring. */
const FULL = -1;

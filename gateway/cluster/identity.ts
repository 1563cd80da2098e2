import { createHash, randomBytes } from 'node:crypto';
import { decodeSensorValue, decodeTelemetry, type DecodeLimits, type DecodeSink } from '../pipeline/decode.js';
import type { DeviceMessage } from '../pipeline/types.js';
import type { IngestTopic } from '../wire/topics.js';

/**
 * The `Nats-Msg-Id` of an ingest publish, so that JetStream stores a retried publish once (its duplicate window,
 * two minutes by default). A publish whose every message carries its own identity (a device `ts`, or a `seq`) is
 * named by its content: the same bytes on the same topic are the same readings, which the pipeline's dedup would
 * drop anyway (pipeline.ts), so a device's MQTT resend to any gateway is stored once. Other publishes (readings
 * stamped with the gateway's receive time) are new readings each time they are sent, exactly as on a single
 * gateway: they get an id unique to this receipt, which still makes the front end's own publish retries
 * (a timeout during a stream leader election) idempotent.
 */
export class MessageIdentity implements DecodeSink {
  private readonly boot = randomBytes(6).toString('base64url');
  private counter = 0;
  private identified = true;
  private any = false;

  constructor(
    private readonly nodeId: string,
    private readonly limits: DecodeLimits,
  ) {}

  of(topic: string, parsed: IngestTopic, payload: Buffer, receivedAt: number): string {
    this.identified = true;
    this.any = false;
    if (parsed.kind === 'telemetry') decodeTelemetry(parsed.device, payload, receivedAt, this.limits, this);
    else if (parsed.kind === 'sensor') decodeSensorValue(parsed.device, parsed.sensor, payload, receivedAt, this.limits, this);
    else this.identified = false;
    if (this.identified && this.any) return `c.${createHash('sha256').update(topic).update('\u0000').update(payload).digest('base64url')}`;
    return `r.${this.nodeId}.${this.boot}.${++this.counter}`;
  }

  message(msg: DeviceMessage): void {
    this.any = true;
    if (!msg.tsFromDevice && msg.seq === undefined) this.identified = false;
  }

  reject(): void {
    // A rejected part is counted by the worker that decodes the stored publish again; its id is just unique.
    this.identified = false;
  }
}

import { ALERTS_ROOT } from '../wire/topics.js';
import { NAMESPACE as SPARKPLUG_NAMESPACE } from '../sparkplug/topic.js';

/** Topics the gateway itself keeps a retained message on (alert state, Sparkplug STATE); not in the budget. */
export function isGatewayRetainedTopic(topic: string): boolean {
  return topic.startsWith(`${ALERTS_ROOT}/`) || topic.startsWith(`${SPARKPLUG_NAMESPACE}STATE/`);
}

/**
 * Bounds what clients keep in aedes' retained store (in memory until a restart, or on disk with
 * mqtt.sessions: disk, where it outlives one: restore() counts what the store held at start): at most `maxMessages`
 * topics and `maxBytes` of topic + payload (mqtt.maxRetainedMessages, mqtt.maxRetainedBytes).
 *
 * Called from the broker's authorizePublish for each retained PUBLISH of a client, before aedes stores it, so the
 * account is kept at admission and publishes handled concurrently cannot overshoot. Outcomes:
 *  - a delete (empty payload [MQTT-3.3.1-10]) is always admitted and frees its topic;
 *  - an update of a topic already held is admitted when the new size fits;
 *  - a new topic is admitted while both bounds hold.
 * A refused publish is still delivered to the current subscribers and ingested; only its storage as the retained
 * message is refused (the broker clears its retain flag), and the message retained before on that topic, if any,
 * stays. MQTT 3.1.1 has no negative PUBACK to say so, and closing the connection would cost the device its
 * readings; for QoS 0 the spec allows the server to discard a retained message at any time [MQTT-3.3.1-7].
 *
 * Retained messages the gateway publishes itself (alert state) do not pass here and are not counted: their number
 * is bounded by the rules and the sensors.
 */
export class RetainedBudget {
  private readonly sizes = new Map<string, number>();
  private bytes = 0;

  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {}

  /** True when the retained publish may be stored; the account then reflects it. */
  admit(topic: string, payloadBytes: number): boolean {
    const held = this.sizes.get(topic);
    if (payloadBytes === 0) {
      if (held !== undefined) {
        this.sizes.delete(topic);
        this.bytes -= held;
      }
      return true;
    }
    const size = Buffer.byteLength(topic, 'utf8') + payloadBytes;
    if (held !== undefined) {
      if (this.bytes - held + size > this.maxBytes) return false;
      this.bytes += size - held;
      this.sizes.set(topic, size);
      return true;
    }
    if (this.sizes.size >= this.maxMessages || this.bytes + size > this.maxBytes) return false;
    this.sizes.set(topic, size);
    this.bytes += size;
    return true;
  }

  /**
   * Counts a retained message the store already held at start (a client's, from a previous run). Not bounded: what
   * was admitted before stays, even if the limits were lowered since; new topics are refused until it fits again.
   * The gateway's own retained messages (alerts, Sparkplug STATE) are not counted, as at admission.
   */
  restore(topic: string, payloadBytes: number): void {
    if (payloadBytes === 0 || isGatewayRetainedTopic(topic)) return;
    const size = Buffer.byteLength(topic, 'utf8') + payloadBytes;
    this.bytes += size - (this.sizes.get(topic) ?? 0);
    this.sizes.set(topic, size);
  }

  get messages(): number {
    return this.sizes.size;
  }

  get storedBytes(): number {
    return this.bytes;
  }
}

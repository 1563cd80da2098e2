import type { NatsConnection } from '@nats-io/transport-node';

/** Whether a NATS connection is up now: false between a `disconnect` and the next `reconnect`, and once closed. */
export interface ConnectionState {
  readonly connected: boolean;
}

/**
 * Follows the connection's status events (nats.js keeps a listener per `status()` iterator). While the connection is
 * down, nats.js buffers what is published, without a bound, until it reconnects: who must not grow memory during an
 * outage (the relay) asks this first.
 */
export function watchConnection(nc: NatsConnection): ConnectionState {
  const state = { connected: true };
  void (async () => {
    for await (const st of nc.status()) {
      if (st.type === 'disconnect' || st.type === 'close') state.connected = false;
      else if (st.type === 'reconnect') state.connected = true;
    }
  })().catch(() => undefined);
  return {
    get connected() {
      return state.connected && !nc.isClosed();
    },
  };
}

import type { MqttClient } from 'mqtt';
import { newClient, type UPayload } from 'sparkplug-client';
import type { Reading } from '../../gateway/pipeline/types.js';
import { reading } from './sparkplug-edge.js';

/**
 * Eclipse Tahu's npm `sparkplug-client` 3.2.4 as an edge node of the gateway (docs/sparkplug.md, "Limits"): it
 * subscribes to `spBv1.0/{group}/NCMD/{edge}/#`, sends bdSeq as the last NBIRTH metric (UInt64, always 0), its will
 * NDEATH at QoS 0, every publish at QoS 0, and emits `ncmd`; the application answers `Node Control/Rebirth` by
 * publishing its births again (Sparkplug 3.0, 6.4, "NCMD").
 */
export type Tahu = ReturnType<typeof newClient>;
export type TahuMetric = NonNullable<UPayload['metrics']>[number];

export const tahuDouble = (name: string | undefined, alias: number, ts: number, value: number): TahuMetric => ({
  ...(name !== undefined ? { name } : {}),
  alias,
  type: 'Double',
  value,
  timestamp: ts,
});

/**
 * Connects edge node `edge` of `group` with the registered id `edge` and its password, and resolves once Tahu
 * says it is connected ('birth'). Each NCMD `Node Control/Rebirth = true` goes to `onRebirth`.
 */
export async function connectTahu(opts: {
  serverUrl: string;
  group: string;
  edge: string;
  password: string;
  onRebirth: (payload: UPayload) => void;
}): Promise<Tahu> {
  const client = newClient({
    serverUrl: opts.serverUrl,
    username: opts.edge,
    password: opts.password,
    groupId: opts.group,
    edgeNode: opts.edge,
    clientId: opts.edge,
    version: 'spBv1.0',
  });
  client.on('ncmd', (payload) => {
    if (payload.metrics?.some((m) => m.name === 'Node Control/Rebirth' && m.value === true)) opts.onRebirth(payload);
  });
  await new Promise<void>((resolve, reject) => {
    client.once('birth', () => resolve());
    client.once('error', reject);
  });
  return client;
}

/**
 * The births the tests' application sends: NBIRTH with `Temp` (alias 1), DBIRTH of `device` with `Motor/Speed`
 * (alias 2), both stamped `ts`. Returns the readings they carry.
 */
export function tahuBirth(client: Tahu, at: { group: string; edge: string; device: string }, ts: number, temp: number, speed: number): Reading[] {
  // Tahu appends the bdSeq metric; the application supplies Node Control/Rebirth [tck-id-payloads-nbirth-rebirth-req].
  client.publishNodeBirth({ timestamp: ts, metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: false }, tahuDouble('Temp', 1, ts, temp)] });
  client.publishDeviceBirth(at.device, { timestamp: ts, metrics: [tahuDouble('Motor/Speed', 2, ts, speed)] });
  return [reading(`${at.group}/${at.edge}`, 'Temp', ts, temp), reading(`${at.group}/${at.edge}/${at.device}`, 'Motor/Speed', ts, speed)];
}

/** The connection dies without DISCONNECT: the broker publishes Tahu's will (the NDEATH with bdSeq 0). */
export function killTahu(client: Tahu): void {
  const mqttClient = (client as unknown as { client: MqttClient }).client; // Tahu keeps its MQTT.js client private
  mqttClient.stream.destroy();
  mqttClient.end(true);
}

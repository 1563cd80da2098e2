/**
 * MQTT protocol versions this broker speaks: aedes 1.2 implements MQTT 3.1 (level 3) and 3.1.1 (level 4).
 *
 * A CONNECT with level 5 (MQTT 5.0) parses, and aedes answers it with the 3.1.1 CONNACK return code 0x01
 * "unacceptable protocol version" [MQTT-3.1.2-2] before closing; MQTT 5 clients read that byte as their reason code
 * 0x84 "Unsupported Protocol Version" (mosquitto_pub prints 132). Any other level is not MQTT at all to mqtt-packet's
 * parser ("Invalid protocol version"), and the connection is closed without a CONNACK.
 *
 * Both are counted as gateway_mqtt_refused_total{reason="protocol_version"} and logged, so an operator can see
 * that a client (typically an MQTT 5 one) is knocking. docs/mqtt.md lists what is supported.
 */
export const SUPPORTED_PROTOCOLS = 'MQTT 3.1 and 3.1.1';

export function isProtocolVersionRefusal(err: Error): boolean {
  return err.message === 'unacceptable protocol version' || err.message === 'Invalid protocol version';
}

/** Protocol levels aedes 1.2 accepts in CONNECT: 3 (MQTT 3.1) and 4 (MQTT 3.1.1). */
export function isSupportedProtocolLevel(level: number): boolean {
  return level === 3 || level === 4;
}

/**
 * Child of quiet-debug.test.ts: loads the broker module (which imports quiet-debug.ts before aedes), then parses
 * a PUBLISH with mqtt-packet as aedes loads it, with every debug namespace enabled through debug's own API.
 * Prints the parsed topic; whatever debug printed went to stderr.
 */
import { createRequire } from 'node:module';
import '../../gateway/broker/broker.js';

const fromAedes = createRequire(import.meta.resolve('aedes'));
const mqttPacket = createRequire(fromAedes.resolve('mqtt-packet'));
const debug = mqttPacket('debug') as { enable(namespaces: string): void };
debug.enable('*');
const { parser, generate } = fromAedes('mqtt-packet') as typeof import('mqtt-packet');
const p = parser({ protocolVersion: 4 });
p.on('packet', (packet) => console.log('topic' in packet ? packet.topic : packet.cmd));
p.parse(generate({ cmd: 'publish', topic: 'sensors/a/telemetry', payload: Buffer.from('{"v":1}'), qos: 0, retain: false, dup: false }));

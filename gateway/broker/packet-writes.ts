import { createRequire } from 'node:module';
import { mqttPacketFile } from './mqtt-packet-deps.js';

/**
 * mqtt-packet's writer without its table of numbers, for the thread that writes MQTT. By default the first packet
 * it writes builds a table of 65,536 two-byte Buffers, one for every 16-bit number (topic lengths, packet ids), and
 * later writes take theirs from it. That first packet is the first CONNACK after a start: building the table took
 * 18-22 ms there, on the way to it, and the table holds ~7 MiB of the broker thread's heap for as long as it runs
 * (BENCHMARKS.md, "A bundled build"). Without it each such number is a two-byte Buffer made when written. The
 * gateway's own hot path writes none: it takes publishes and writes its PUBACKs itself (thread/own-pubacks.ts);
 * what mqtt-packet writes is CONNACKs, SUBACKs and the alerts delivered to subscribers. Switched off the documented
 * way, before any packet is written (mqtt-packet README, "writeToStream.cacheNumbers"). A side-effect module like
 * packet-reads.ts: import it before anything that loads aedes.
 */
interface Writer {
  cacheNumbers: boolean;
}

const file = mqttPacketFile();
const writer = file === undefined ? undefined : (createRequire(import.meta.url)(file) as { writeToStream?: Partial<Writer> }).writeToStream;
if (writer !== undefined && typeof writer.cacheNumbers === 'boolean') writer.cacheNumbers = false;

/**
 * The ceiling the gateway is measured against: aedes with nothing but a message counter in its publish hook
 * (the same hook the gateway's gate sits in). Run as its own process by servers.ts; talks over IPC:
 *   -> { type: 'listening', port }     <- 'stats'  -> { type: 'stats', messages, cpuSeconds, rss }
 * BENCH_BARE_PARSE=1 adds a JSON.parse of each payload (shows what parsing alone costs).
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const parse = process.env.BENCH_BARE_PARSE === '1';
let messages = 0;
const broker = await Aedes.createBroker({
  authorizePublish: (_client, packet, done) => {
    messages++;
    if (parse) JSON.parse((packet.payload as Buffer).toString('utf8'));
    done(null);
  },
});
const server = createServer(broker.handle);
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.send!({ type: 'listening', port: typeof addr === 'object' && addr ? addr.port : 0 });
});
process.on('message', (m: string) => {
  if (m === 'stats') {
    const cpu = process.cpuUsage();
    process.send!({ type: 'stats', messages, cpuSeconds: (cpu.user + cpu.system) / 1e6, rss: process.memoryUsage.rss() });
  }
});
process.on('disconnect', () => process.exit(0));

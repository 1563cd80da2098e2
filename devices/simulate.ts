#!/usr/bin/env node
/**
 * `simulate`: a fleet of virtual sensors publishing on the wire contract, with optional faults, for demos, soak
 * tests and the benchmarks (which use createFleet directly). A live one-line summary goes to stderr when it is a
 * terminal; the final summary is one JSON object on stdout. Stops after --duration, or on SIGINT/SIGTERM.
 * Exit codes: 0 done, 1 no device could connect, 2 bad usage.
 */
import { Command } from 'commander';
import { createFleet } from './sim/fleet.js';
import { fleetOptionsFrom, UsageError, type SimulateArgs } from './sim/options.js';

const program = new Command('simulate')
  .description('Simulate a fleet of MQTT sensors publishing devices/{id}/telemetry (or Sparkplug B with --sparkplug)')
  .option('--url <url>', 'gateway MQTT URL (mqtt://, mqtts://, ws://)', 'mqtt://127.0.0.1:1883')
  .option('--devices <n>', 'number of devices (default 10, or all in --credentials)')
  .option('--id-prefix <prefix>', 'device ids without --credentials: <prefix>0001, ...', 'sim-')
  .option('--credentials <file>', 'device secrets: {"id","password"} lines as printed by `devices add`')
  .option('--username <id>', 'simulate this one device (its id is the MQTT username)')
  .option('--password <secret>', 'secret of --username')
  .option('--sensors <list>', 'comma-separated sensors: temperature, humidity, vibration, pressure, co2, or any name', 'temperature,humidity')
  .option('--rate <n>', 'messages per second per device', '1')
  .option('--qos <0|1>', 'MQTT QoS of publishes', '0')
  .option('--duration <d>', 'stop after this long (e.g. 30s, 10m); default: until Ctrl-C')
  .option('--seed <n>', 'random seed: the same seed gives the same signals and faults', '1')
  .option('--duplicates <p>', 'probability of resending a message', '0')
  .option('--reorder <p>', 'probability of sending a message after the next one', '0')
  .option('--late <p>', 'probability of holding a message back for --late-by', '0')
  .option('--late-by <d>', 'how long late messages are held back', '15s')
  .option('--offline-every <d>', 'each device loses its uplink this often (buffers, then flushes a backlog array)')
  .option('--offline-for <d>', 'for this long')
  .option('--clock-skew <d>', 'each device clock is off by up to this much either way', '0ms')
  .option('--burst', 'all devices publish at the same instant instead of spread over the period')
  .option('--ca <file>', 'CA certificate for mqtts:// or wss://')
  .option('--insecure', 'do not verify the server certificate')
  .option(
    '--sparkplug [group]',
    'be Sparkplug B edge nodes of this group (default sim): births, DDATA by alias, NDEATH will, rebirth on NCMD; a backlog replays as is_historical',
  )
  .showHelpAfterError();

program.parse(process.argv);

let parsed;
try {
  parsed = fleetOptionsFrom(program.opts<SimulateArgs>());
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`simulate: ${err.message}\n`);
  process.exit(2);
}
const { fleet: options, durationMs } = parsed;

const firstErrors = new Map<string, string>();
const fleet = createFleet({
  ...options,
  onError: (id, err) => {
    // One line per distinct message, not per device and publish.
    if (!firstErrors.has(err.message) && firstErrors.size < 20) {
      firstErrors.set(err.message, id);
      process.stderr.write(`${process.stderr.isTTY ? '\n' : ''}simulate: ${id}: ${err.message}\n`);
    }
  },
});

const live = process.stderr.isTTY
  ? setInterval(() => {
      const s = fleet.stats();
      process.stderr.write(`\r\x1b[Ksent ${s.sent}  acked ${s.acked}  ${s.ackRate}/s  connected ${s.connected}/${s.devices}  errors ${s.errors}`);
    }, 1000)
  : undefined;

let stopping = false;
async function finish(): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (live) clearInterval(live);
  const s = await fleet.stop();
  if (process.stderr.isTTY) process.stderr.write('\n');
  process.stdout.write(`${JSON.stringify({ url: options.url, sensors: options.sensors, rate: options.rate, qos: options.qos, ...s })}\n`);
  process.exit(s.connectFailures === s.devices ? 1 : 0);
}

process.on('SIGINT', () => void finish());
process.on('SIGTERM', () => void finish());
await fleet.start();
if (fleet.stats().connectFailures === options.devices.length) await finish();
else if (durationMs !== undefined) setTimeout(() => void finish(), durationMs);

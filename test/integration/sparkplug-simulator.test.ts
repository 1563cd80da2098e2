import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFleet } from '../../devices/sim/fleet.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

/** `simulate --sparkplug`: simulated Sparkplug B edge nodes with the same fault flags, against the real gateway. */
describe('fleet simulator as Sparkplug B edge nodes', () => {
  let influx: InfluxServer;
  let tg: TestGateway;

  beforeAll(async () => {
    influx = await startInfluxd();
    tg = await startTestGateway({ influxUrl: influx.url, rules: 'rules: []\n' });
  });
  afterAll(async () => {
    await tg?.dispose();
    await influx?.dispose();
  });

  const sparkplugMetric = async (name: string, label: string, value: string) => {
    const text = await (await fetch(`${tg.httpUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${label}="${value}"}`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };

  it('createFleet with duplicates, reordering and late messages: every reading accepted once, no rebirth needed', async () => {
    const fleet = createFleet({
      url: tg.mqttUrl,
      devices: [{ id: 'spn-1' }, { id: 'spn-2' }, { id: 'spn-3' }],
      sensors: ['temperature', 'humidity', 'vibration'],
      rate: 20,
      qos: 1,
      seed: 7,
      sparkplug: { group: 'lab' },
      faults: { duplicates: 0.1, reorder: 0.1, late: 0.05, lateByMs: 500 },
    });
    await fleet.start();
    await new Promise((r) => setTimeout(r, 2000));
    const s = await fleet.stop();
    expect(s).toMatchObject({ connectFailures: 0, errors: 0 });
    expect(s.duplicates).toBeGreaterThan(0);
    await waitFor('all readings ingested', async () => ((await metricValue(tg.gw, 'readingsAccepted')) >= s.readings ? true : undefined));
    expect(await metricValue(tg.gw, 'readingsAccepted')).toBe(s.readings);
    expect(await metricValue(tg.gw, 'readingsDuplicate')).toBe(s.duplicates * 3);
    expect(await metricValue(tg.gw, 'messagesRejected')).toBe(0);
    expect(await sparkplugMetric('gateway_sparkplug_events_total', 'event', 'node_birth')).toBe(3);
    expect(await sparkplugMetric('gateway_sparkplug_events_total', 'event', 'seq_repeat')).toBe(s.duplicates);
    expect(await sparkplugMetric('gateway_sparkplug_rebirths_requested_total', 'reason', 'seq_gap')).toBe(0);
    const rows = await influx.query(`SELECT count("count") FROM "telemetry" WHERE "device" =~ /^lab\\/spn-/ GROUP BY "device", "sensor"`, 'iot');
    expect(rows[0]!.series!.map((x) => `${x.tags!['device']} ${x.tags!['sensor']}`).sort()).toHaveLength(9);
  });

  it('edge nodes that lose their uplink: a new birth per connection, the backlog replayed (is_historical), every reading once, no rebirth asked', async () => {
    const before = await metricValue(tg.gw, 'readingsAccepted');
    const birthsBefore = await sparkplugMetric('gateway_sparkplug_events_total', 'event', 'node_birth');
    const fleet = createFleet({
      url: tg.mqttUrl,
      devices: [{ id: 'spo-1' }, { id: 'spo-2' }],
      sensors: ['temperature'],
      rate: 20,
      qos: 1,
      seed: 3,
      sparkplug: { group: 'lab' },
      faults: { offlineEveryMs: 1000, offlineForMs: 300 },
    });
    await fleet.start();
    await new Promise((r) => setTimeout(r, 2500));
    const s = await fleet.stop();
    expect(s.backlogFlushes).toBeGreaterThan(0);
    await waitFor('all readings ingested', async () => ((await metricValue(tg.gw, 'readingsAccepted')) - before >= s.readings ? true : undefined));
    expect((await metricValue(tg.gw, 'readingsAccepted')) - before).toBe(s.readings);
    // Two first births, and a new one (new bdSeq) after each outage.
    expect((await sparkplugMetric('gateway_sparkplug_events_total', 'event', 'node_birth')) - birthsBefore).toBeGreaterThan(2);
    expect(await sparkplugMetric('gateway_sparkplug_rebirths_requested_total', 'reason', 'seq_gap')).toBe(0);
    expect(await sparkplugMetric('gateway_sparkplug_rebirths_requested_total', 'reason', 'no_birth')).toBe(0);
  });

  it('npm run simulate -- --sparkplug prints its summary', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        'devices/simulate.ts',
        '--url',
        tg.mqttUrl,
        '--devices',
        '2',
        '--id-prefix',
        'spc-',
        '--sensors',
        'co2',
        '--rate',
        '10',
        '--qos',
        '1',
        '--duration',
        '1s',
        '--sparkplug',
        'cli',
      ],
      { timeout: 60_000 },
    );
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
    expect(summary).toMatchObject({ devices: 2, connectFailures: 0, errors: 0 });
    await waitFor('the CLI nodes online in /health', async () => {
      const h = (await (await fetch(`${tg.httpUrl}/health`)).json()) as { sparkplug: { nodes: { group: string }[] } };
      return h.sparkplug.nodes.filter((n) => n.group === 'cli').length === 2 ? true : undefined;
    });
  });
});

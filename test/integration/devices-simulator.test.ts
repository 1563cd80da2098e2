import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../gateway/auth/password.js';
import { createFleet } from '../../devices/sim/fleet.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

/**
 * The fleet simulator against a real gateway: every reading it generates must be accepted exactly once, every
 * resend counted as a duplicate, whatever faults it injects; the simulate CLI authenticates with secrets.
 */
describe('fleet simulator against the gateway', () => {
  let influx: InfluxServer;
  let tg: TestGateway;
  let dir: string;
  const creds = [
    { id: 'sim-a', password: 'secret-a' },
    { id: 'sim-b', password: 'secret-b' },
    { id: 'sim-c', password: 'secret-c' },
  ];

  beforeAll(async () => {
    influx = await startInfluxd();
    dir = mkdtempSync(join(tmpdir(), 'gw-sim-'));
    const lines = ['devices:'];
    for (const c of creds) lines.push(`  - id: ${c.id}`, `    passwordHash: ${await hashSecret(c.password)}`, '    tags: { site: lab }');
    writeFileSync(join(dir, 'devices.yaml'), `${lines.join('\n')}\n`);
    writeFileSync(join(dir, 'creds.jsonl'), `${creds.map((c) => JSON.stringify(c)).join('\n')}\n`);
    tg = await startTestGateway({
      influxUrl: influx.url,
      dir,
      rules: 'rules: []\n',
      overrides: { auth: { devicesFile: join(dir, 'devices.yaml'), anonymous: 'loopback' } },
    });
  });

  afterAll(async () => {
    await tg?.stop();
    await influx?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('createFleet with duplicates, reordering, late messages and offline backlogs: every reading accepted once', async () => {
    const fleet = createFleet({
      url: tg.mqttUrl,
      devices: [{ id: 'anon-1' }, { id: 'anon-2' }, { id: 'anon-3' }, { id: 'anon-4' }],
      sensors: ['temperature', 'humidity', 'vibration'],
      rate: 20,
      qos: 1,
      seed: 42,
      clockSkewMs: 2000,
      faults: { duplicates: 0.1, reorder: 0.1, late: 0.05, lateByMs: 500, offlineEveryMs: 1000, offlineForMs: 300 },
    });
    await fleet.start();
    // Run until every fault under test has happened at least once (and enough messages for the counts below).
    await waitFor(
      'duplicates, a backlog flush and 40 messages',
      () => {
        const now = fleet.stats();
        return now.messages > 40 && now.duplicates > 0 && now.backlogFlushes > 0;
      },
      30_000,
    );
    const s = await fleet.stop();
    expect(s.connectFailures).toBe(0);
    expect(s.errors).toBe(0);
    expect(s.acked).toBe(s.sent);
    expect(s.messages).toBeGreaterThan(40);
    expect(s.duplicates).toBeGreaterThan(0);
    expect(s.backlogFlushes).toBeGreaterThan(0);

    await waitFor('all readings ingested', async () => ((await metricValue(tg.gw, 'readingsAccepted')) >= s.readings ? true : undefined));
    expect(await metricValue(tg.gw, 'readingsAccepted')).toBe(s.readings);
    expect(await metricValue(tg.gw, 'readingsDuplicate')).toBe(s.duplicates * 3);
    expect(await metricValue(tg.gw, 'messagesReceived')).toBe(s.sent);
  });

  it('the simulate CLI authenticates devices from a credentials file and prints a final JSON summary', async () => {
    const before = await metricValue(tg.gw, 'readingsAccepted');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        'devices/simulate.ts',
        '--url',
        tg.mqttUrl,
        '--credentials',
        join(dir, 'creds.jsonl'),
        '--sensors',
        'co2',
        '--rate',
        '10',
        '--qos',
        '1',
        '--duration',
        '2s',
        '--duplicates',
        '0.2',
      ],
      { timeout: 60_000 },
    );
    const summary = JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
    expect(summary).toMatchObject({ devices: 3, connectFailures: 0, errors: 0 });
    expect(summary['acked']).toBe(summary['sent']);
    expect(summary['messages']).toBeGreaterThan(10);
    await waitFor('CLI readings ingested', async () => ((await metricValue(tg.gw, 'readingsAccepted')) - before >= summary['readings']! ? true : undefined));
    expect((await metricValue(tg.gw, 'readingsAccepted')) - before).toBe(summary['readings']);
    expect(await metricValue(tg.gw, 'authFailures')).toBe(0);

    const rows = await waitFor('co2 series with the registry tag in InfluxDB', async () => {
      const r = await influx.query(`SELECT count("count") FROM "telemetry" WHERE "sensor" = 'co2' AND "site" = 'lab' GROUP BY "device"`, 'iot');
      return (r[0]?.series?.length ?? 0) === 3 ? r[0]!.series! : undefined;
    });
    expect(rows.map((s) => s.tags!['device']).sort()).toEqual(['sim-a', 'sim-b', 'sim-c']);
  });
});

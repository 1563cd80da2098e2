import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { metricValue, startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitFor } from '../support/wait.js';

/**
 * A SQLite file the gateway cannot use is moved aside at start and replaced (persist/sqlite.ts): its data is lost
 * to InfluxDB, so the operator must be able to see it: /health says degraded and names it, and a counter counts
 * it by database and reason.
 */
describe('a damaged or unknown database at start', () => {
  let influx: InfluxServer;
  let tg: TestGateway | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gw-moved-'));

  beforeAll(async () => {
    influx = await startInfluxd();
  });
  afterAll(async () => {
    await tg?.dispose();
    await influx?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is shown in /health (degraded, with where it went) and counted', async () => {
    const data = join(dir, 'data');
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'state.db'), Buffer.alloc(8192, 'not a database '));
    const foreign = new Database(join(data, 'outbox.db'));
    foreign.exec('CREATE TABLE something_else (x INTEGER)');
    foreign.close();

    tg = await startTestGateway({ influxUrl: influx.url, dir, rules: 'rules: []\n' });
    type Health = { status: string; influx: { up: boolean }; storage?: { movedAside: { database: string; reason: string; movedTo: string }[] } };
    const health = async () => (await tg!.gw.admin.inject({ method: 'GET', url: '/health' })).json<Health>();
    // InfluxDB is up: the only cause left for `degraded` is the storage.
    await waitFor('InfluxDB up', async () => (await health()).influx.up);
    const h = await health();
    expect(h.status).toBe('degraded');
    expect(h.storage?.movedAside).toEqual([
      expect.objectContaining({ database: 'outbox', reason: 'unknown', movedTo: expect.stringContaining('outbox.db.unknown-') }),
      expect.objectContaining({ database: 'state', reason: 'corrupt', movedTo: expect.stringContaining('state.db.corrupt-') }),
    ]);
    expect(await metricValue(tg.gw, 'databasesMovedAside', { database: 'state', reason: 'corrupt' })).toBe(1);
    expect(await metricValue(tg.gw, 'databasesMovedAside', { database: 'outbox', reason: 'unknown' })).toBe(1);
    const files = readdirSync(data);
    expect(files.filter((f) => /^(state|outbox)\.db\.(corrupt|unknown)-/.test(f) && !/-(wal|shm)$/.test(f))).toHaveLength(2);

    // The next start finds good files: nothing moved, ok again.
    await tg.stop();
    tg = await startTestGateway({ influxUrl: influx.url, dir });
    await waitFor('InfluxDB up', async () => (await health()).influx.up);
    expect(await health()).toMatchObject({ status: 'ok', storage: { movedAside: [] } });
    expect(await metricValue(tg.gw, 'databasesMovedAside')).toBe(0);
  });
});

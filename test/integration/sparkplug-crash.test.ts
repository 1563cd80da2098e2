import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '../../gateway/pipeline/types.js';
import { startInfluxd, type InfluxServer } from '../support/influxd.js';
import { portsOf, prepareGateway, spawnGateway } from '../support/process.js';
import { double, reading, TestEdgeNode } from '../support/sparkplug-edge.js';
import { storedWindows } from '../support/telemetry.js';
import { referenceWindows } from '../support/reference.js';
import { waitFor } from '../support/wait.js';

/**
 * The gateway process killed (SIGKILL) after an edge node's QoS 1 births and data, before any checkpoint: the
 * ingest log replay rebuilds the node's session (alias map, seq), so its DATA after the restart still decodes.
 */
describe('Sparkplug B across a crash', () => {
  let influx: InfluxServer;
  let dir: string;

  beforeAll(async () => {
    influx = await startInfluxd();
    dir = mkdtempSync(join(tmpdir(), 'gw-sp-crash-'));
  });
  afterAll(async () => {
    await influx?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('DATA by alias decodes after a SIGKILL and a restart that replays the births from the ingest log', async () => {
    const f = await prepareGateway(dir, influx.url, { gatewayId: 'sp-crash', durability: { checkpointInterval: '1h' } });
    let gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    const base = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    const expected: Reading[] = [];
    let n = await TestEdgeNode.connect(gp.mqttUrl, 'plant1', 'c1', 4);
    n.qos = 1;
    await n.nbirth([double({ name: 'Temp', alias: 1 }, base, 1)]);
    await n.send('DBIRTH', 'm', [double({ name: 'Motor/Speed', alias: 2 }, base, 10)]);
    await n.send('DDATA', 'm', [double({ alias: 2 }, base + 200, 11)]);
    expected.push(
      reading('plant1/c1', 'Temp', base, 1),
      reading('plant1/c1/m', 'Motor/Speed', base, 10),
      reading('plant1/c1/m', 'Motor/Speed', base + 200, 11),
    );
    const seq = n.seq;
    expect(await gp.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await n.end().catch(() => undefined);

    gp = await spawnGateway(f.configFile, { ports: portsOf(f) });
    try {
      expect(await gp.metric('gateway_ingest_log_replayed_total')).toBe(3);
      n = await TestEdgeNode.connect(gp.mqttUrl, 'plant1', 'c1', 4);
      n.qos = 1;
      n.seq = seq;
      for (let i = 1; i <= 5; i++) {
        await n.send('DDATA', 'm', [double({ alias: 2 }, base + 200 + i * 150, 11 + i)]);
        expected.push(reading('plant1/c1/m', 'Motor/Speed', base + 200 + i * 150, 11 + i));
      }
      const reference = referenceWindows(expected, 1000);
      const stored = await waitFor('the windows, exact', async () => {
        const s = await storedWindows(influx, 'sp-crash');
        return s.size === reference.size && [...reference].every(([k, r]) => s.get(k)?.count === r.count && s.get(k)?.last === r.last) ? s : undefined;
      });
      for (const [k, r] of reference)
        expect({ ...stored.get(k)!, device: undefined, sensor: undefined, start: undefined }, k).toEqual({
          ...r,
          device: undefined,
          sensor: undefined,
          start: undefined,
        });
      expect(n.commands).toEqual([]);
      expect(await gp.metric('gateway_sparkplug_rebirths_requested_total')).toBe(0);
      await n.end();
    } finally {
      await gp.kill('SIGTERM');
    }
  });
});

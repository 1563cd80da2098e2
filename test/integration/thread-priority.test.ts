import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { threadNice } from '../../gateway/threads/priority.js';
import { portsOf, prepareGateway, spawnGateway, type GatewayProcess } from '../support/process.js';
import { waitFor } from '../support/wait.js';

/**
 * The real gateway process (dist/gateway/main.js): its own JavaScript threads (this one and the broker thread)
 * keep the process's priority; Node's and V8's helper threads and the checkpoint writer run at the configured
 * nice values (runtime.helperThreadNice, runtime.backgroundThreadNice), read back from /proc/<pid>/task/<tid>/stat.
 * No InfluxDB is needed for this: the outbox keeps what it cannot send.
 */
const dirs: string[] = [];
const gateways: GatewayProcess[] = [];
afterEach(async () => {
  for (const g of gateways.splice(0)) await g.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(runtime: Record<string, number>): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'thread-nice-'));
  dirs.push(dir);
  const f = await prepareGateway(dir, 'http://127.0.0.1:9', { runtime, mqtt: { brokerThread: 'on' } });
  const g = await spawnGateway(f.configFile, { ports: portsOf(f) });
  gateways.push(g);
  return g;
}

/** Nice value -> how many threads of the process have it. */
function niceCounts(pid: number): Map<number, number> {
  const m = new Map<number, number>();
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    const n = threadNice(pid, Number(t));
    if (n !== undefined) m.set(n, (m.get(n) ?? 0) + 1);
  }
  return m;
}

describe.runIf(process.platform === 'linux')('gateway thread priorities', () => {
  it('runs the helper threads and the checkpoint writer at their nice values, its JavaScript threads at the process value', async () => {
    const g = await start({ helperThreadNice: 9, backgroundThreadNice: 13 });
    const base = threadNice(g.pid, g.pid)!;
    // The checkpoint writer starts once MQTT listens; /health can answer a moment before.
    await waitFor('the checkpoint writer at nice 13', () => ((niceCounts(g.pid).get(13) ?? 0) === 1 ? true : undefined), 10_000);
    const counts = niceCounts(g.pid);
    expect(counts.get(13)).toBe(1);
    expect(counts.get(9) ?? 0).toBeGreaterThanOrEqual(4); // V8's platform pool (--v8-pool-size, default 4) and more
    expect(counts.get(base) ?? 0).toBeGreaterThanOrEqual(2); // the gateway thread and the broker thread
    expect([...counts.keys()].sort()).toEqual([base, 9, 13].sort());
  });

  it('leaves every thread at the process value with both at 0', async () => {
    const g = await start({ helperThreadNice: 0, backgroundThreadNice: 0 });
    const base = threadNice(g.pid, g.pid)!;
    await new Promise((r) => setTimeout(r, 500));
    expect([...niceCounts(g.pid).keys()]).toEqual([base]);
  });
});

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../gateway/log.js';
import { SqliteStateStore } from '../../gateway/state/sqlite-state.js';
import { canonical, messageOf, newPipeline } from '../support/delta-crash.js';

/**
 * docs/durability.md, incremental checkpoints: a SIGKILL at any moment (between delta writes, while one is captured,
 * while the writer thread commits one) leaves a checkpoint whose rows are the state at exactly its log position, so
 * that restore + replay of the log after it is the state of an uninterrupted run over every logged message.
 */
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function killAfterSaves(dir: string, saves: number, extraMs: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/delta-crash-child.ts', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  let seen = 0;
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
    child.stdout!.on('data', (b: Buffer) => {
      seen += b
        .toString()
        .split('\n')
        .filter((l) => l.startsWith('saved')).length;
      if (seen >= saves) resolve();
    });
  });
  child.removeAllListeners('exit');
  await new Promise((r) => setTimeout(r, extraMs));
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGKILL');
  await exited;
  return seen;
}

describe('incremental checkpoints across SIGKILL', () => {
  for (const [saves, extraMs] of [
    [3, 0],
    [4, 37],
    [6, 113],
  ] as const) {
    it(`killed after ${saves} saves + ${extraMs} ms: checkpoint + replay is the uninterrupted state`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'delta-crash-'));
      dirs.push(dir);
      await killAfterSaves(dir, saves, extraMs);
      const store = new SqliteStateStore({ dir, sync: 'normal', log: createLogger('silent') });
      try {
        const cp = store.load();
        expect(cp).toBeDefined();
        const restored = newPipeline(cp!.pipeline);
        let replayed = 0;
        for (const r of store.after(cp!.logPosition)) {
          const i = Number(r.payload.toString());
          expect(r.position).toBe(i);
          restored.ingest(messageOf(i), r.receivedAt);
          replayed++;
        }
        const last = store.totals().lastPosition;
        expect(last).toBeGreaterThan(cp!.logPosition);
        expect(cp!.logPosition + replayed).toBe(last);
        const reference = newPipeline();
        for (let i = 1; i <= last; i++) reference.ingest(messageOf(i), 1_700_000_000_000 + i);
        expect(canonical(restored)).toEqual(canonical(reference));
      } finally {
        store.close();
      }
    }, 60_000);
  }
});

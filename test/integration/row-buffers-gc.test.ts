import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** Runs the child under --trace-gc; the GC lines printed between each "begin" and "end". */
async function gcsInsideTurns(): Promise<string[][]> {
  const child = spawn(process.execPath, ['--trace-gc', '--import', 'tsx', 'test/support/row-buffers-gc-child.ts'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code).toBe(0);
  const turns: string[][] = [];
  let inside: string[] | undefined;
  for (const line of out.split('\n')) {
    if (line === 'begin') turns.push((inside = []));
    else if (line === 'end') inside = undefined;
    else if (inside !== undefined && /Scavenge|Mark-Compact/.test(line)) inside.push(line);
  }
  return turns;
}

describe('the row buffers of a checkpoint and the young generation', () => {
  it('buffers the writer thread has written do not force a garbage collection on the next allocation', async () => {
    const turns = await gcsInsideTurns();
    expect(turns).toHaveLength(3);
    // With ArrayBuffers transferred back from the writer, each of these turns ran one or two scavenges
    // "external memory pressure" (persist/row-buffers.ts says why).
    for (const gcs of turns) expect(gcs.filter((l) => l.includes('external memory pressure'))).toEqual([]);
  }, 60_000);
});
